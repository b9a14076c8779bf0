"""Personal data and secrets in source files: find them, count them, replace them.

Four kinds, each replaced by its placeholder as StarCoder's PII pipeline did: e-mail
addresses, public IP addresses, keys/tokens and passwords. Detection:

- e-mails and IPs: the regexes of BigCode's PII pipeline, tightened (a real top-level
  domain, whole dotted quads), then what is well known not to be personal is kept:
  documentation domains and addresses (RFC 2606 / 5737 / 3849), private, loopback and
  reserved ranges, public resolvers, version strings (`version = "1.2.3.4"`), `git@host`.
- keys and passwords: detect-secrets' format plugins (AWS, GitHub, GitLab, Slack, Stripe,
  JWT, npm, PyPI, OpenAI, ...) and its keyword detector (`password = "..."`), run only on
  the lines a cheap pre-filter admits (detect-secrets costs ~0.2 ms a line); PEM private
  key bodies; values that are placeholders (`EXAMPLE`, `changeme`, `${VAR}`) are kept, and
  lock files (their hashes) are not searched for keys.

Redaction replaces each span and nothing else: the bytes outside the spans are unchanged.
"""

import ipaddress
import math
import posixpath
import re
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from functools import cache


class PiiKind(StrEnum):
    EMAIL = "email"
    IP_ADDRESS = "ip_address"
    KEY = "key"
    PASSWORD = "password"

    @property
    def placeholder(self) -> str:
        return f"<{self.name}>"


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    kind: PiiKind


# --- e-mail addresses -------------------------------------------------------------------

#: Generic top-level domains seen in code; any two-letter country code is accepted too. A
#: known TLD keeps `x@self.weight` (matrix product) and `icon@2x.png` out.
_GENERIC_TLDS_WORDS = """
    com org net edu gov mil int info biz name pro io ai dev app co me tech xyz online site
    email cloud email mail network systems solutions services software digital group company
    global world today live life science academy institute foundation news media blog page
    codes tools works host space store shop security support help center studio design
"""
GENERIC_TLDS = frozenset(_GENERIC_TLDS_WORDS.split())
EMAIL = re.compile(
    r"(?<![\w.%+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@"
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24}))(?![\w-])"
)
#: Domains reserved for documentation and testing (RFC 2606, RFC 6761), the placeholders
#: documentation uses, and namespaces of protocol names (`sk-ecdsa-sha2-nistp256@openssh.com`).
DOC_DOMAINS = (
    "example.com", "example.org", "example.net", "example.edu", "foo.com", "bar.com",
    "baz.com", "domain.com", "yourdomain.com", "openssh.com", "libssh.org",
)  # fmt: skip
DOC_SUFFIXES = (".example", ".test", ".invalid", ".localhost", ".local")
#: Local parts that name a service account, not a person (`git@github.com:owner/repo`).
SERVICE_USERS = frozenset({"git", "hg", "noreply", "no-reply", "donotreply", "do-not-reply"})


def find_emails(text: str) -> list[Span]:
    if "@" not in text:
        return []
    spans = []
    for match in EMAIL.finditer(text):
        if _url_userinfo(text, match.start()):
            continue
        user, domain, tld = match.group(1), match.group(2).lower(), match.group(3).lower()
        if len(tld) != 2 and tld not in GENERIC_TLDS:
            continue
        if domain in DOC_DOMAINS or domain.endswith(DOC_SUFFIXES):
            continue
        if any(domain.endswith("." + d) for d in DOC_DOMAINS) or user.lower() in SERVICE_USERS:
            continue
        spans.append(Span(match.start(), match.end(), PiiKind.EMAIL))
    return spans


def _url_userinfo(text: str, start: int) -> bool:
    """`user:password@host` of a URL, not an address (`mailto:` excepted)."""
    return start > 0 and text[start - 1] == ":" and text[max(0, start - 7) : start] != "mailto:"


# --- IP addresses -------------------------------------------------------------------------

OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IPV4 = re.compile(rf"(?<![\w.]){OCTET}(?:\.{OCTET}){{3}}(?!\w|\.\d)")
#: What every dotted quad contains; a cheap scan that rules out most files (the full
#: pattern, with its look-behind and octet ranges, costs four times as much per byte).
DOTTED_QUAD = re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d")
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
DOCUMENTATION_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
#: Public resolvers and other addresses that identify a service, not a person.
WELL_KNOWN_IPS = frozenset(
    {"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112",
     "208.67.222.222", "208.67.220.220", "2001:4860:4860::8888", "2001:4860:4860::8844"}
)  # fmt: skip
#: Text just before a dotted quad that makes it a version, not an address.
VERSION_CONTEXT = re.compile(
    r"(?i)(?:(?<![a-z])(?:v|ver|versions?|releases?|released|build|rev|revision|tag|section|sec|see|chapter|clause|rfc|§|oid|objectidentifier)_*|==|>=|<=|~="
    r"|@)[\s\"':=,(\[]*$"
)


def is_public_ip(value: str) -> bool:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    if value in WELL_KNOWN_IPS or any(ip in net for net in DOCUMENTATION_NETS):
        return False
    return ip.is_global and not ip.is_multicast


def find_ips(text: str) -> list[Span]:
    spans = []
    if "." in text and DOTTED_QUAD.search(text):
        for match in IPV4.finditer(text):
            before = text[max(0, match.start() - 24) : match.start()]
            network = text[match.end() : match.end() + 1] == "/"  # a CIDR range, not a host
            small = all(int(octet) <= 20 for octet in match.group().split("."))  # 3.1.1.6, 1.2.3.4
            if is_public_ip(match.group()) and not (
                network or small or VERSION_CONTEXT.search(before)
            ):
                spans.append(Span(match.start(), match.end(), PiiKind.IP_ADDRESS))
    if "::" in text or text.count(":") >= 7:
        for match in IPV6.finditer(text):
            groups = [g for g in match.group().split(":") if g]
            # three groups at least: `x[0::2]` slices and `a::b` scopes parse as addresses too
            if len(groups) >= 3 and is_public_ip(match.group()):
                spans.append(Span(match.start(), match.end(), PiiKind.IP_ADDRESS))
    return spans


# --- keys, tokens and passwords -----------------------------------------------------------

#: detect-secrets plugins that recognise a key by its format, plus the keyword detector.
SECRET_PLUGINS = (
    "AWSKeyDetector", "ArtifactoryDetector", "AzureStorageKeyDetector", "BasicAuthDetector",
    "CloudantDetector", "DiscordBotTokenDetector", "GitHubTokenDetector", "GitLabTokenDetector",
    "IbmCloudIamDetector", "IbmCosHmacDetector", "JwtTokenDetector", "KeywordDetector",
    "MailchimpDetector", "NpmDetector", "OpenAIDetector", "PypiTokenDetector",
    "SendGridDetector", "SlackDetector", "SoftlayerDetector", "SquareOAuthDetector",
    "StripeDetector", "TelegramBotTokenDetector", "TwilioKeyDetector",
)  # fmt: skip
SECRET_FILTERS = (
    "is_sequential_string", "is_potential_uuid", "is_likely_id_string", "is_templated_secret",
    "is_prefixed_with_dollar_sign", "is_indirect_reference",
)  # fmt: skip
#: Lines worth handing to detect-secrets: a secret-ish word or a known key prefix, matched
#: in the lower-cased text (a case-insensitive regex runs 4x slower).
_HINTS = (
    r"passw|passph|pass\s*[=:\"']|_pass\b|pwd|secret|token|api.?key|auth|cred|private|"
    r"akia|asia|gh[pousr]_|github_pat_|glpat-|xox[abprs]-|[sr]k_live_|sk-|aiza|sg\.|eyj|npm_|pypi-|://[^/\s:@]+:[^/\s@]+@"
)
SECRET_HINT = re.compile(_HINTS)
SECRET_HINT_ANY_CASE = re.compile(_HINTS, re.IGNORECASE)
PRIVATE_KEY = re.compile(
    r"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)(.*?)(-----END [A-Z0-9 ]*PRIVATE KEY"
    r"(?: BLOCK)?-----)",
    re.DOTALL,
)
#: A PEM body: base64 lines (and headers such as `Proc-Type:`), not code between two markers.
KEY_BODY = re.compile(r"(?:[A-Za-z-]+: [^\n]*\n)*[A-Za-z0-9+/=\s]{40,}")
PASSWORD_WORD = re.compile(r"(?i)pass(?:word|wd|phrase)?\b|pwd|passwd|_pass\b")
#: Values that are documentation or templates, never a live secret.
PLACEHOLDER_VALUE = re.compile(
    r"(?i)example|sample|dummy|placeholder|changeme|change_me|your[_-]|xxxx|\*\*\*\*|<[^>]*>|"
    r"\$\{|\{\{|%\(|^(?:test|secret|password|passw0rd|token|none|null|true|false)$"
)
#: Only letters and separators: a name (`xet-auth`, `DATABRICKS_CLIENT_SECRET`), not a key.
WORDS = re.compile(r"[A-Za-z]+(?:[-_.][A-Za-z]+)*\Z")
TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-+/=.~]*")
LOCK_FILES = frozenset(
    {"package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock",
     "pipfile.lock", "cargo.lock", "go.sum", "composer.lock", "gemfile.lock", "pdm.lock",
     "uv.lock", "flake.lock", "packages.lock.json", "podfile.lock", "mix.lock"}
)  # fmt: skip
MAX_SCANNED_LINE = 4096


@cache
def _scan_line():
    """detect-secrets' line scanner, its settings made ours once per process (its
    `transient_settings` re-reads every plugin each time it is entered: ~1.6 ms a file)."""
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import cache_bust, configure_settings_from_baseline

    cache_bust()
    configure_settings_from_baseline(
        {
            "plugins_used": [{"name": name} for name in SECRET_PLUGINS],
            "filters_used": [
                {"path": f"detect_secrets.filters.heuristic.{name}"} for name in SECRET_FILTERS
            ],
        }
    )
    return scan_line


def is_lock_file(path: str | None) -> bool:
    name = posixpath.basename(path or "").lower()
    return name in LOCK_FILES or name.endswith(".lock")


def find_secrets(text: str, path: str | None = None) -> list[Span]:
    if is_lock_file(path):
        return []
    spans = []
    for m in PRIVATE_KEY.finditer(text):
        body = m.group(2)
        if KEY_BODY.fullmatch(body.strip()) and not PLACEHOLDER_VALUE.search(body):
            start = m.start(2) + len(body) - len(body.lstrip())
            spans.append(Span(start, m.end(2) - len(body) + len(body.rstrip()), PiiKind.KEY))
    # one pass of the pre-filter over the whole text, then only its lines go to detect-secrets
    lowered = text.lower()
    if len(lowered) == len(text):
        starts = [m.start() for m in SECRET_HINT.finditer(lowered)]
    else:  # a character whose lower case is longer: offsets would shift
        starts = [m.start() for m in SECRET_HINT_ANY_CASE.finditer(text)]
    if not starts:
        return spans
    scan_line = _scan_line()
    done = -1
    for start in starts:
        if start <= done:
            continue  # a later hint on a line already scanned
        begin = text.rfind("\n", 0, start) + 1
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        done = end - 1
        if end - begin <= MAX_SCANNED_LINE:
            spans += _line_secrets(text[begin:end], begin, scan_line)
    return spans


def _line_secrets(line: str, offset: int, scan_line) -> list[Span]:
    out = []
    for secret in scan_line(line.rstrip("\r\n")):
        value = secret.secret_value or ""
        start = line.find(value) if value else -1
        if start < 0:
            continue
        # a plugin may report a prefix of the token (`ghp`): take the whole run of token chars
        end = max(start + len(value), TOKEN_CHARS.match(line, start).end())
        token = line[start:end]
        if len(token) < 6 or PLACEHOLDER_VALUE.search(token) or _low_entropy(token):
            continue
        keyword = secret.type == "Secret Keyword"
        kind = PiiKind.PASSWORD if keyword and PASSWORD_WORD.search(line[:start]) else PiiKind.KEY
        if keyword and (
            any(c.isspace() for c in value) or (kind is PiiKind.KEY and WORDS.match(value))
        ):
            continue  # `secret_type = 'NPM tokens'`, `CLIENT_SECRET = "client_secret"`: names
        out.append(Span(offset + start, offset + end, kind))
    return out


def _low_entropy(token: str) -> bool:
    """`aaaaaaaa`, `12345678`: a keyword assignment whose value is no secret."""
    counts = Counter(token)
    entropy = -sum(c / len(token) * math.log2(c / len(token)) for c in counts.values())
    return entropy < 2.0


# --- the whole file -------------------------------------------------------------------------


def find_pii(
    text: str, path: str | None = None, kinds: frozenset[PiiKind] | None = None
) -> list[Span]:
    """Every span to redact, sorted, overlaps resolved (the earlier, then longer, span wins)."""
    kinds = kinds or frozenset(PiiKind)
    found: list[Span] = []
    if PiiKind.EMAIL in kinds:
        found += find_emails(text)
    if PiiKind.IP_ADDRESS in kinds:
        found += find_ips(text)
    if kinds & {PiiKind.KEY, PiiKind.PASSWORD}:
        found += [s for s in find_secrets(text, path) if s.kind in kinds]
    spans: list[Span] = []
    for span in sorted(found, key=lambda s: (s.start, -s.end)):
        if not spans or span.start >= spans[-1].end:
            spans.append(span)
    return spans


def redact(text: str, spans: list[Span]) -> str:
    """`text` with each span replaced by its kind's placeholder; nothing else changes."""
    parts, cursor = [], 0
    for span in spans:
        parts += [text[cursor : span.start], span.kind.placeholder]
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)


def count_kinds(spans: list[Span]) -> dict[PiiKind, int]:
    counts = Counter(span.kind for span in spans)
    return {kind: counts.get(kind, 0) for kind in PiiKind}
