"""Static reference data of the sample world: countries, cultures, titles, pages, texts."""

from dataclasses import dataclass

OUR_COMPANY = "Lumora"
OUR_DOMAIN = "lumora.io"
WEBSITE = f"https://www.{OUR_DOMAIN}"
APP_URL = f"https://app.{OUR_DOMAIN}"

FAKER_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "en_IN", "zh_CN", "ja_JP")


@dataclass(frozen=True)
class Country:
    """A country accounts can be based in.

    Attributes:
        code: ISO-3166 alpha-2.
        region: Sales region.
        faker_locale: Faker locale for names and IPs of people based there.
        web_locale: Browser locale of visitors from there.
        utc_offset: Hours ahead of UTC of its business hours (one zone per country is enough here).
        tld: Typical domain suffix of its companies.
        phone_patterns: National significant numbers: ``X`` any digit, ``N`` 2-9.
        legal_forms: (short, long) legal-form suffixes, e.g. ("Ltd", "Limited").
    """

    code: str
    region: str
    faker_locale: str
    web_locale: str
    utc_offset: float
    tld: str
    phone_patterns: tuple[str, ...]
    legal_forms: tuple[tuple[str, str], ...]


COUNTRIES: dict[str, Country] = {
    c.code: c
    for c in (
        Country(
            "US",
            "NA",
            "en_US",
            "en-US",
            -6,
            "com",
            ("212NXXXXXX", "415NXXXXXX", "646NXXXXXX", "312NXXXXXX", "617NXXXXXX", "206NXXXXXX")
            + ("512NXXXXXX", "303NXXXXXX", "408NXXXXXX", "650NXXXXXX", "305NXXXXXX", "404NXXXXXX"),
            (("Inc.", "Incorporated"), ("LLC", "L.L.C."), ("Corp.", "Corporation")),
        ),
        Country(
            "CA",
            "NA",
            "en_US",
            "en-CA",
            -5,
            "ca",
            ("416NXXXXXX", "604NXXXXXX", "514NXXXXXX", "403NXXXXXX", "613NXXXXXX"),
            (("Inc.", "Incorporated"), ("Ltd.", "Limited")),
        ),
        Country(
            "GB",
            "EMEA",
            "en_GB",
            "en-GB",
            0,
            "co.uk",
            ("207NXXXXXX", "203NXXXXXX", "161NXXXXXX", "77XXXXXXXX", "78XXXXXXXX", "79XXXXXXXX"),
            (("Ltd", "Limited"), ("PLC", "Public Limited Company")),
        ),
        Country(
            "AU",
            "APAC",
            "en_US",
            "en-AU",
            10,
            "com.au",
            ("4XXXXXXXX", "2NXXXXXXX"),
            (("Pty Ltd", "Proprietary Limited"),),
        ),
        Country(
            "DE",
            "EMEA",
            "de_DE",
            "de-DE",
            1,
            "de",
            ("30NXXXXXXX", "89NXXXXXXX", "151XXXXXXXX", "170XXXXXXXX", "171XXXXXXXX", "176XXXXXXXX"),
            (("GmbH", "GmbH"), ("AG", "Aktiengesellschaft")),
        ),
        Country(
            "FR",
            "EMEA",
            "fr_FR",
            "fr-FR",
            1,
            "fr",
            ("1XXXXXXXX", "6XXXXXXXX", "4XXXXXXXX"),
            (("SAS", "S.A.S."), ("SA", "S.A.")),
        ),
        Country(
            "ES",
            "EMEA",
            "es_ES",
            "es-ES",
            1,
            "es",
            ("6XXXXXXXX", "91NXXXXXX", "93NXXXXXX"),
            (("S.L.", "SL"), ("S.A.", "SA")),
        ),
        Country(
            "MX",
            "LATAM",
            "es_ES",
            "es-MX",
            -6,
            "com.mx",
            ("55XXXXXXXX", "33XXXXXXXX", "81XXXXXXXX"),
            (("S.A. de C.V.", "SA de CV"),),
        ),
        Country("CO", "LATAM", "es_ES", "es-CO", -5, "com.co", ("31XXXXXXXX",), (("S.A.S.", "SAS"),)),
        Country("AR", "LATAM", "es_ES", "es-AR", -3, "com.ar", ("11NXXXXXXX",), (("S.A.", "SA"),)),
        Country(
            "IN",
            "APAC",
            "en_IN",
            "en-IN",
            5.5,
            "in",
            ("9XXXXXXXXX", "8XXXXXXXXX", "7XXXXXXXXX"),
            (("Pvt Ltd", "Private Limited"), ("Ltd", "Limited")),
        ),
        Country(
            "CN",
            "APAC",
            "zh_CN",
            "zh-CN",
            8,
            "com.cn",
            ("13XXXXXXXXX", "18XXXXXXXXX", "10NXXXXXXX", "21NXXXXXXX"),
            (("Co., Ltd.", "Company Limited"),),
        ),
        Country(
            "JP",
            "APAC",
            "ja_JP",
            "ja-JP",
            9,
            "co.jp",
            ("80XXXXXXXX", "3NXXXXXXX", "6NXXXXXXX"),
            (("Co., Ltd.", "K.K."),),
        ),
    )
}

# culture -> (share of people in %, (country, weight) where its companies are based)
CULTURES: dict[str, tuple[int, tuple[tuple[str, int], ...]]] = {
    "en": (35, (("US", 70), ("GB", 18), ("CA", 6), ("AU", 6))),
    "de": (10, (("DE", 1),)),
    "fr": (8, (("FR", 1),)),
    "es": (12, (("ES", 45), ("MX", 35), ("CO", 12), ("AR", 8))),
    "in": (12, (("IN", 1),)),
    "zh": (15, (("CN", 1),)),
    "ja": (8, (("JP", 1),)),
}

# Faker locale for the names of a culture (English names follow the company's country).
CULTURE_NAME_LOCALE = {
    "de": "de_DE",
    "fr": "fr_FR",
    "es": "es_ES",
    "in": "en_IN",
    "zh": "zh_CN",
    "ja": "ja_JP",
}

PERSONAL_DOMAINS: dict[str, tuple[tuple[str, int], ...]] = {
    "en": (("gmail.com", 50), ("outlook.com", 20), ("yahoo.com", 12), ("hotmail.com", 10), ("icloud.com", 8)),
    "de": (("gmail.com", 35), ("web.de", 25), ("gmx.de", 25), ("t-online.de", 15)),
    "fr": (("gmail.com", 45), ("orange.fr", 25), ("free.fr", 15), ("laposte.net", 15)),
    "es": (("gmail.com", 55), ("hotmail.com", 25), ("yahoo.es", 10), ("outlook.com", 10)),
    "in": (("gmail.com", 65), ("yahoo.co.in", 15), ("rediffmail.com", 10), ("outlook.com", 10)),
    "zh": (("qq.com", 45), ("163.com", 30), ("126.com", 10), ("gmail.com", 15)),
    "ja": (("gmail.com", 45), ("yahoo.co.jp", 35), ("docomo.ne.jp", 10), ("icloud.com", 10)),
}

# Misspelt provider domains people type into forms; mail to them bounces.
DOMAIN_TYPOS = {
    "gmail.com": ("gmial.com", "gmail.co", "gmal.com"),
    "outlook.com": ("outlok.com", "outlook.co"),
    "hotmail.com": ("hotmial.com", "hotmail.co"),
    "yahoo.com": ("yaho.com", "yahoo.co"),
}

INDUSTRIES = (
    "Software",
    "Financial Services",
    "Healthcare",
    "Retail",
    "Manufacturing",
    "Logistics",
    "Education",
    "Media",
    "Telecommunications",
    "Energy",
    "Professional Services",
    "Travel & Hospitality",
)

# Words companies add to a family name, per culture.
COMPANY_WORDS = {
    "en": ("Analytics", "Systems", "Logistics", "Health", "Capital", "Labs", "Media", "Foods", "Energy")
    + ("Retail", "Software", "Partners", "Group", "Technologies", "Consulting", "Networks"),
    "de": ("Logistik", "Systeme", "Technik", "Handel", "Medien", "Energie", "Software", "Gruppe"),
    "fr": ("Conseil", "Systèmes", "Logistique", "Santé", "Médias", "Énergie", "Technologies", "Groupe"),
    "es": ("Logística", "Sistemas", "Soluciones", "Energía", "Medios", "Tecnología", "Salud", "Grupo"),
    "in": ("Infotech", "Solutions", "Technologies", "Systems", "Enterprises", "Software", "Industries"),
}
COINED_HEADS = ("Bright", "North", "Blue", "Silver", "Clear", "Swift", "Green", "Red", "Iron", "Star")
COINED_TAILS = ("wave", "peak", "crest", "field", "stone", "bridge", "path", "line", "works", "gate")

# (native, English) descriptors of Chinese and Japanese company names.
ZH_COMPANY_WORDS = (
    ("科技", "Technology"),
    ("网络", "Network"),
    ("信息", "Information"),
    ("软件", "Software"),
    ("传媒", "Media"),
    ("电子", "Electronics"),
    ("物流", "Logistics"),
)
JA_COMPANY_WORDS = (
    ("電機", "Electric"),
    ("システム", "Systems"),
    ("工業", "Industries"),
    ("商事", "Trading"),
    ("情報", "Information"),
    ("製薬", "Pharmaceutical"),
)

# role -> (canonical title, variants other sources write)
TITLES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "decision": (
        ("Chief Marketing Officer", ("CMO",)),
        ("VP Marketing", ("Vice President, Marketing", "VP of Marketing")),
        ("Chief Technology Officer", ("CTO",)),
        ("VP Engineering", ("Vice President of Engineering", "VP, Engineering")),
        ("Head of Data", ("Head of Data & Analytics", "Data Lead")),
        ("Director of Marketing Operations", ("Marketing Operations Director", "Dir. Marketing Ops")),
        ("Chief Revenue Officer", ("CRO",)),
        ("VP Customer Success", ("Vice President, Customer Success",)),
    ),
    "champion": (
        ("Marketing Operations Manager", ("Marketing Ops Manager", "MOPs Manager")),
        ("CRM Manager", ("CRM Lead",)),
        ("Growth Marketing Manager", ("Growth Manager",)),
        ("Analytics Engineering Lead", ("Lead Analytics Engineer",)),
        ("Data Engineering Manager", ("Manager, Data Engineering",)),
        ("Customer Success Manager", ("CSM",)),
        ("Product Manager", ("PM", "Sr. Product Manager")),
    ),
    "user": (
        ("Data Analyst", ("Analyst", "Sr. Data Analyst")),
        ("Marketing Specialist", ("Marketing Associate",)),
        ("Analytics Engineer", ("Sr. Analytics Engineer",)),
        ("Data Engineer", ("Senior Data Engineer", "Sr. Data Engineer")),
        ("Sales Operations Analyst", ("Sales Ops Analyst",)),
        ("Software Engineer", ("Developer", "SWE")),
        ("Email Marketing Manager", ("Email Marketing Specialist",)),
        ("Business Intelligence Analyst", ("BI Analyst",)),
    ),
}

# (page name, path, title) of the marketing website.
PAGES = (
    ("Home", "/", f"{OUR_COMPANY} | Customer data platform"),
    ("Pricing", "/pricing", f"Pricing | {OUR_COMPANY}"),
    ("Demo", "/demo", f"Book a demo | {OUR_COMPANY}"),
    ("Product", "/product/identity-resolution", f"Identity resolution | {OUR_COMPANY}"),
    ("Product", "/product/audiences", f"Audiences | {OUR_COMPANY}"),
    ("Product", "/product/integrations", f"Integrations | {OUR_COMPANY}"),
    ("Docs", "/docs/getting-started", f"Getting started | {OUR_COMPANY} Docs"),
    ("Docs", "/docs/api/identify", f"Identify API | {OUR_COMPANY} Docs"),
    ("Docs", "/docs/connectors/crm", f"CRM connector | {OUR_COMPANY} Docs"),
    ("Blog", "/blog/what-is-a-cdp", "What is a customer data platform?"),
    ("Blog", "/blog/identity-resolution-explained", "Identity resolution, explained"),
    ("Blog", "/blog/consent-management-gdpr", "Consent management under GDPR"),
    ("Customers", "/customers", f"Customer stories | {OUR_COMPANY}"),
    ("Webinars", "/webinars", f"Webinars | {OUR_COMPANY}"),
    ("Resources", "/resources/cdp-buyers-guide", "The CDP buyer's guide"),
    ("Contact", "/contact", f"Contact sales | {OUR_COMPANY}"),
)
PAGE_WEIGHTS = (14, 12, 6, 8, 6, 5, 6, 4, 3, 9, 7, 5, 4, 3, 4, 4)
LOGIN_PAGE = ("Login", "/login", f"Log in | {OUR_COMPANY}")
INVITE_PAGE = ("Signup", "/signup/invite", f"Join your team | {OUR_COMPANY}")

# web-form kind -> (form page path, track event fired on submit or None)
FORM_KINDS = {
    "demo": ("/demo", "Demo Requested"),
    "content": ("/resources/cdp-buyers-guide", "Content Downloaded"),
    "webinar": ("/webinars/unified-customer-view", "Webinar Registered"),
    "contact": ("/contact", None),
    "trial": ("/trial", "Signed Up"),
}

_CHROME = "Mozilla/5.0 ({}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{}.0.0.0 Safari/537.36"
# (user agent, share of visits) of common desktop and mobile browsers.
USER_AGENTS = (
    (_CHROME.format("Windows NT 10.0; Win64; x64", 141), 22),
    (_CHROME.format("Windows NT 10.0; Win64; x64", 140), 12),
    (_CHROME.format("Macintosh; Intel Mac OS X 10_15_7", 141), 16),
    (_CHROME.format("X11; Linux x86_64", 141), 3),
    (_CHROME.format("Windows NT 10.0; Win64; x64", 141) + " Edg/141.0.0.0", 9),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/26.0 Safari/605.1.15",
        12,
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:144.0) Gecko/20100101 Firefox/144.0", 6),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:144.0) Gecko/20100101 Firefox/144.0", 3),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.6 Mobile/15E148 Safari/604.1",
        10,
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 "
        "Mobile Safari/537.36",
        7,
    ),
)

REFERRERS = (
    ("https://www.google.com/", 40),
    ("", 25),
    ("https://www.linkedin.com/", 12),
    ("https://www.bing.com/", 6),
    ("https://news.ycombinator.com/", 4),
    ("https://duckduckgo.com/", 4),
    ("https://www.baidu.com/", 3),
    ("https://github.com/", 6),
)

# (utm source, medium) of paid and social campaigns, and campaign names.
UTM_CHANNELS = (
    ("google", "cpc"),
    ("linkedin", "paid_social"),
    ("facebook", "paid_social"),
    ("bing", "cpc"),
    ("twitter", "organic_social"),
    ("partner", "referral"),
)
UTM_CAMPAIGNS = ("cdp-demo", "identity-resolution", "buyers-guide", "consent-webinar", "brand", "retargeting")
UTM_TERMS = ("customer data platform", "identity resolution", "cdp software", "golden record", "")

FEATURES = (
    "audience_builder",
    "identity_graph",
    "dashboard",
    "journey_builder",
    "data_export",
    "consent_center",
    "connector_setup",
    "sql_editor",
)

VIDEO_CAMPAIGNS = ("CDP awareness", "Identity resolution explainer", "Trial push", "Webinar promo")
VIDEO_ADS = ("15s unified customer view", "30s customer story", "Founder explainer", "Product tour")

HOTLINE_NOTES = (
    "Asked about pricing for the growth plan",
    "Wants a demo next week",
    "Evaluating CDPs; sending comparison sheet",
    "Asked whether we integrate with their CRM",
    "Question about data residency in the EU",
    "Requested a call back from sales",
    "Existing customer; asked about more seats",
    "Asked about SSO and security review",
    "Heard about us at a conference",
    "Wants to know trial limits",
)

TICKET_SUBJECTS = (
    ("Cannot log in to the app", "normal"),
    ("Dashboard not loading", "normal"),
    ("Question about our invoice", "low"),
    ("API rate limit errors on identify calls", "high"),
    ("SSO configuration help", "normal"),
    ("Data export failing", "normal"),
    ("Audience sync to ad platform stuck", "urgent"),
    ("How do I merge duplicate profiles?", "normal"),
    ("CRM connector shows authentication error", "normal"),
    ("Feature request: custom consent purposes", "low"),
    ("Events missing since yesterday", "high"),
    ("Add users to our workspace", "low"),
    ("Update billing contact", "low"),
    ("Question about consent export", "normal"),
    ("Webhook retries not working", "normal"),
)

ACTIVITY_SUBJECTS = {
    "prospect": ("Intro call", "Discovery follow-up", "Sent case study", "Left voicemail", "LinkedIn note"),
    "pipeline": ("Demo", "Pricing discussion", "Security questionnaire", "Proposal review", "Legal redlines"),
    "customer": ("Onboarding check-in", "Quarterly business review", "Renewal discussion", "Usage review")
    + ("Escalation follow-up", "Expansion discussion"),
    "churned": ("Renewal discussion", "Escalation follow-up", "Exit interview", "Win-back call"),
}

NPS_COMMENTS = {
    "promoter": (
        "Great product, the identity graph saved us weeks",
        "Support is fast and knowledgeable",
        "Audiences sync reliably, love it",
        "Easy to set up and the docs are clear",
        "Best CDP we have used",
        "Sehr zufrieden mit dem Produkt",
        "Très bon outil, équipe réactive",
        "非常好用，客服响应很快",
    ),
    "passive": (
        "Good overall, pricing is a bit high",
        "Works well but the UI could be simpler",
        "Solid, would like more connectors",
        "Fine for now, evaluating a few gaps",
        "Buen producto, falta documentación en español",
    ),
    "detractor": (
        "Too many outages this quarter",
        "Support tickets take days to get answered",
        "Sync errors keep coming back",
        "Hard to use and expensive",
        "We are considering other vendors",
        "データ連携のエラーが多すぎる",
    ),
}

# (trade-show name, host country); attendees come from the host's region.
TRADESHOWS = (
    ("SaaStr Annual", "US"),
    ("Martech Summit London", "GB"),
    ("DMEXCO", "DE"),
    ("VivaTech", "FR"),
    ("Data Council", "US"),
    ("China Marketing Technology Expo", "CN"),
    ("Nasscom Technology Forum", "IN"),
    ("Marketing Japan Expo", "JP"),
    ("South Summit Madrid", "ES"),
    ("Latam Martech Forum", "MX"),
    ("CDP Institute Summit", "US"),
    ("Big Data London", "GB"),
)
