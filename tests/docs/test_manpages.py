#!/usr/bin/env python3
"""The man pages in docs/man/ against the sources they describe.

What the code accepts is read from the C sources with regular expressions
(no build needed), and each page must document it:

  passkeyd.conf.5  every key of passkeyd/config.c's apply() (the parser is
                   a chain of strcmp(key, "...") tests, plus the
                   single_keys[] table), each as an ".It Cm KEY" entry whose
                   text states the key's numeric range (set_uint's bounds),
                   its default (set_defaults(), fill_and_check()) and the
                   words a list or choice accepts; and no entry for a key
                   the parser does not know
  pam_passkey.8    every option of pam/options.c's parse_one() (strcmp(a,
                   "...") and value_of(a, "...")), with its values, range
                   and default (the macros of pam/options.h and
                   control/ctl_client.h), and the PAM codes that
                   pam_sm_authenticate() and parse_opts() return
  passkeyd.8       every flag passkeyd/main.c's main() compares argv with,
                   every signal set_signals() handles, every exit status
                   main() and usage() return
  passkeyctl.1     every command of the commands[] table of
                   passkeyctl/passkeyctl.c, each with the flags its cmd_*
                   function accepts in its own entry: the struct option
                   tables the function names, the short options of its
                   getopt_long() string, the letters it passes to
                   credentials.c's parse() (mapped through parse()'s
                   "opt == OPT_X && strchr(allowed, 'c')" tests), and the
                   argv[...] it compares by hand; the global flags of
                   main(); the exit codes of passkeyctl.h

Then `mandoc -T lint -W warning` must say nothing about each page (mandoc
is required: without it the check fails), and, when groff is installed,
`groff -mandoc -ww -z` must print no warning.  docs/man/meson.build must
install the four pages.

Every extraction is checked for a few names it must find, so that a regex
that stops matching fails instead of passing over an empty list, and each
kind of comparison is run once on a page with an entry taken out, so that
it is shown to be able to fail.

TAP.  usage: test_manpages.py [SOURCE_ROOT]   (default: this file's ../..)"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from tap import ok, note, group, plan  # noqa: E402

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", ".."))
PAGES = ["pam_passkey.8", "passkeyd.8", "passkeyd.conf.5", "passkeyctl.1", "passkey_rp.3"]
RP_HEADERS = ["passkey_rp.h", "rp_err.h", "rp_b64url.h"]


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


# ---- C sources ----------------------------------------------------------

def c_source(rel):
    """A C file without its comments (they quote option names too)."""
    return re.sub(r"/\*.*?\*/", " ", read(rel), flags=re.S)


def c_body(src, name):
    """The body of the function NAME, defined with its name at the start of
    a line (this project's style) and its closing brace alone at column 0."""
    m = re.search(r"^" + re.escape(name) + r"\([^)]*\)\s*\{(.*?)^\}", src, re.M | re.S)
    if m is None:
        raise LookupError(f"no function {name}() found")
    return m.group(1)


def c_defines(*rels):
    out = {}
    for rel in rels:
        for m in re.finditer(r"^#define\s+(\w+)\s+(.+?)\s*$", c_source(rel), re.M):
            out[m.group(1)] = m.group(2).strip()
    return out


def c_value(expr, defines):
    """A number or a string of a C expression: a literal, a macro, or a
    product of numbers such as 30 * 86400."""
    expr = expr.strip()
    for _ in range(5):
        if expr in defines:
            expr = defines[expr]
    if expr.startswith('"') and expr.endswith('"'):
        return expr[1:-1]
    expr = re.sub(r"(?<=\d)[uUlL]+\b", "", expr).strip("() ")
    if not re.fullmatch(r"[\d\s*()]+", expr):
        raise ValueError(f"cannot evaluate {expr!r}")
    n = 1
    for part in expr.replace("(", " ").replace(")", " ").split("*"):
        n *= int(part)
    return str(n)


def config_keys():
    """passkeyd/config.c: {key: {"range": [min, max], "default": str or None,
    "words": set}}.  apply() tests the key with strcmp(key, "...") and then
    calls a setter; the text from one test to the next is that key's part."""
    src = c_source("passkeyd/config.c")
    apply_body = c_body(src, "apply")
    parts = re.split(r'strcmp\(key,\s*"(\w+)"\)', apply_body)
    keys = {}
    for key, text in zip(parts[1::2], parts[2::2]):
        info = keys.setdefault(key, {"range": None, "default": None, "words": set()})
        m = re.search(r"set_uint\(&cfg->\w+,\s*v,\s*([^,]+),\s*([^,]+),", text)
        if m:
            info["range"] = [c_value(m.group(1), {}), c_value(m.group(2), {})]
        info["words"] |= set(re.findall(r'strcmp\(v,\s*"([\w-]+)"\)', text))
        # the setter it calls: its table of accepted words (set_algs,
        # set_attestation) or the words it compares v with (set_bool)
        for fn in set(re.findall(r"\b(set_\w+)\(", text)):
            fbody = c_body(src, fn)
            m = re.search(r'names\[\]\s*=\s*\{([^}]*)\}', fbody)
            if m:
                info["words"] |= set(re.findall(r'"([\w-]+)"', m.group(1)))
            info["words"] |= set(re.findall(r'strcmp\(v,\s*"([\w-]+)"\)', fbody))
    single = re.search(r"single_keys\[\]\s*=\s*\{([^}]*)\}", src, re.S)
    for key in re.findall(r'"(\w+)"', single.group(1) if single else ""):
        keys.setdefault(key, {"range": None, "default": None, "words": set()})
    defaults = c_body(src, "set_defaults")
    for field, value in re.findall(r"cfg->(\w+)\s*=\s*(\d+)\s*;", defaults):
        if field in keys and keys[field]["range"] is not None:
            keys[field]["default"] = value
    fill = c_body(src, "fill_and_check")
    for key, value in re.findall(r'\{\s*"(\w+)",\s*"([^"]+)"\s*\}', fill):
        if key in keys:
            keys[key]["default"] = value
    m = re.search(r'parse_listen\(cfg,\s*"([^"]+)"', fill)
    if m and "listen" in keys:
        keys["listen"]["default"] = m.group(1)
    return keys


def pam_options():
    """pam/options.c: {option: {"values", "range", "default"}}; parse_one()
    tests each with strcmp(a, "...") or value_of(a, "...")."""
    src = c_source("pam/options.c")
    defines = c_defines("pam/options.h", "control/ctl_client.h")
    body = c_body(src, "parse_one")
    parts = re.split(r'(?:strcmp|value_of)\(a,\s*"(\w+)"\)', body)
    opts = {}
    for name, text in zip(parts[1::2], parts[2::2]):
        info = opts.setdefault(name, {"values": set(), "range": None, "default": None})
        info["values"] |= set(re.findall(r'strcmp\(v,\s*"([\w-]+)"\)', text))
        m = re.search(r"parse_long\(v,\s*([^,]+),\s*([^,]+),", text)
        if m:
            info["range"] = [c_value(m.group(1), defines), c_value(m.group(2), defines)]
    init = re.search(r"\(struct pk_opts\)\{(.*?)\};", c_body(src, "pk_opts_parse"), re.S)
    for field, expr in re.findall(r"\.(\w+)\s*=\s*([^,}]+)", init.group(1) if init else ""):
        if field not in opts:
            continue
        # an enum default names its word: .flow = PK_FLOW_PROMPT is "prompt"
        m = re.fullmatch(rf"PK_{field.upper()}_(\w+)", expr.strip())
        opts[field]["default"] = m.group(1).lower() if m else c_value(expr, defines)
    return opts


def pam_returns():
    src = c_source("pam/pam_passkey.c")
    codes = set()
    for fn in ("pam_sm_authenticate", "parse_opts"):
        for stmt in re.findall(r"\breturn\b[^;]*;", c_body(src, fn)):
            codes |= set(re.findall(r"\bPAM_[A-Z_]+\b", stmt))
    return codes


def passkeyd_facts():
    src = c_source("passkeyd/main.c")
    main = c_body(src, "main")
    flags = set(re.findall(r'strcmp\(argv\[i\],\s*"(-[-\w]+)"\)', main))
    signals = set(re.findall(r"sigaction\((SIG\w+)", c_body(src, "set_signals")))
    exits = set()
    for fn in ("main", "usage"):
        body = c_body(src, fn)
        exits |= set(re.findall(r"\breturn\s+(\d+)\s*;", body))
        exits |= set(re.findall(r"\brc\s*=\s*(\d+)\b", body))
        for a, b in re.findall(r"\?\s*(\d+)\s*:\s*(\d+)", body):
            exits |= {a, b}
    return flags, signals, exits


def passkeyctl_facts():
    """passkeyctl: ([(command, function)], {command: flags}, global flags,
    exit codes)."""
    main_src = c_source("passkeyctl/passkeyctl.c")
    table = re.search(r"commands\[\]\s*=\s*\{(.*?)\n\};", main_src, re.S)
    commands = re.findall(r'\{\s*"([\w-]+)",\s*(cmd_\w+)', table.group(1) if table else "")
    srcs = {}
    for name in sorted(os.listdir(os.path.join(ROOT, "passkeyctl"))):
        if name.endswith(".c"):
            srcs[name] = c_source(os.path.join("passkeyctl", name))
    flags = {}
    for command, fn in commands:
        where = [s for s in srcs.values() if re.search(r"^" + fn + r"\(", s, re.M)]
        if len(where) != 1:
            raise LookupError(f"{fn}() is defined in {len(where)} files")
        src = where[0]
        body = c_body(src, fn)
        tables = {}
        for tname, ttext in re.findall(r"static const struct option (\w+)\[\]\s*=\s*\{(.*?)\};",
                                       src, re.S):
            tables[tname] = re.findall(r'\{\s*"([\w-]+)",\s*\w+_argument,\s*NULL,\s*(\w+)\s*\}',
                                       ttext)
        got = set()
        for tname, entries in tables.items():
            if re.search(r"\b" + tname + r"\b", body):
                got |= {"--" + n for n, _ in entries}
        for optstring in re.findall(r'getopt_long\(argc,\s*argv,\s*"([^"]*)"', body):
            got |= {"-" + c for c in optstring if c.isalnum()}
        for letters in re.findall(r'\bparse\(argc,\s*argv,\s*\w+,\s*"(\w*)"', body):
            # credentials.c: parse() maps each allowed letter to an OPT_
            # constant of the table it hands getopt_long; OPT_HELP always
            pbody = c_body(src, "parse")
            ptable = re.search(r'getopt_long\(argc,\s*argv,\s*"[^"]*",\s*(\w+)', pbody).group(1)
            by_const = {const: n for n, const in tables[ptable]}
            allowed = {"OPT_HELP"} if re.search(r"opt == OPT_HELP\)", pbody) else set()
            for const, letter in re.findall(r"opt == (OPT_\w+) && strchr\(allowed, '(\w)'\)",
                                            pbody):
                if letter in letters:
                    allowed.add(const)
            got |= {"--" + by_const[c] for c in allowed}
        got |= set(re.findall(r'strn?cmp\(argv\[\d+\],\s*"(-[-\w]+)"', body))
        flags[command] = got
    main = c_body(main_src, "main")
    global_flags = set(re.findall(r'strn?cmp\(argv\[1\],\s*"(-[-\w]+)"', main))
    exits = set(re.findall(r"^#define\s+EXIT_\w+\s+(\d+)", c_source("passkeyctl/passkeyctl.h"),
                           re.M))
    return commands, flags, global_flags, exits


# ---- mdoc pages ---------------------------------------------------------

def page(name):
    return read(os.path.join("docs", "man", name))


def sections(text):
    """{".Sh" title: its lines}."""
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"\.Sh\s+(.*)$", line)
        if m:
            cur = m.group(1).strip()
            out[cur] = []
        elif cur is not None:
            out[cur].append(line)
    return out


def items(lines):
    """The entries of the outermost lists of a section: [(head, body)],
    head being the arguments of the ".It" line, body every line up to the
    next outermost ".It" (nested lists included)."""
    out, depth = [], 0
    for line in lines:
        if re.match(r"\.Bl\b", line):
            depth += 1
        elif re.match(r"\.El\b", line):
            depth -= 1
        if depth == 1 and re.match(r"\.It\b", line):
            out.append([line[3:].strip(), []])
        elif out and depth >= 1:
            out[-1][1].append(line)
    return [(h, "\n".join(b)) for h, b in out]


def head_names(head, macro):
    """The words after MACRO in an .It head: "Cm rp_id No = Ar domain" gives
    ["rp_id"]; "Dv SIGTERM , SIGINT" gives both signals."""
    m = re.match(macro + r"\s+(.*)$", head)
    if m is None:
        return []
    words = []
    for w in m.group(1).split():
        if re.fullmatch(r"[A-Z][a-z][a-z]?", w):     # the next macro ends the list
            break
        if w not in (",", "|"):
            words.append(w)
    return words


def flag_words(text):
    """Every flag a text shows with Fl on a macro line: "Fl -json" is
    --json, "Fl o" is -o."""
    out = set()
    for line in text.splitlines():
        if not line.startswith("."):
            continue
        for w in re.findall(r"(?:^\.|\s)Fl\s+(\S+)", line):
            w = w.replace("\\&", "").replace("\\-", "-").rstrip(",;:.)")
            if w and w[0] not in "|" and not re.fullmatch(r"[A-Z][a-z][a-z]?", w):
                out.add("-" + w)
    return out


def plain(text):
    """A page's text with the macros' names dropped, for looking up words
    and numbers in an entry."""
    words = []
    for line in text.splitlines():
        if line.startswith(".\\\""):
            continue
        if line.startswith("."):
            line = " ".join(w for w in line[1:].split()
                            if not re.fullmatch(r"[A-Z][a-z][a-z]?", w))
        words.append(line.replace("\\&", "").replace("\\-", "-"))
    return "\n".join(words)


def has_word(text, word):
    return re.search(r"(?<![\w.-])" + re.escape(word) + r"(?![\w-])", plain(text)) is not None


def entries(text, section, macro):
    """{name: body} for the outermost entries of SECTION whose head is
    MACRO NAME (several names in one head share the body)."""
    out = {}
    for head, body in items(sections(text).get(section, [])):
        for n in head_names(head, macro):
            out[n] = head + "\n" + body
    return out


def missing_entries(text, section, macro, names):
    have = entries(text, section, macro)
    return sorted(n for n in names if n not in have)


def entry_problems(text, section, macro, wanted):
    """wanted: {name: [words its entry must contain]}; returns
    ["name: word", ...] for each word an entry lacks."""
    have = entries(text, section, macro)
    return sorted(f"{n}: {w}" for n, ws in wanted.items() if n in have
                  for w in ws if not has_word(have[n], w))


# ---- checks -------------------------------------------------------------

def check_config():
    keys = config_keys()
    text = page("passkeyd.conf.5")
    ok(len(keys) >= 25 and {"rp_id", "origin", "public_url", "store", "ceremony_timeout",
                            "trust_anchors"} <= set(keys),
       f"config.c: {len(keys)} keys extracted, the known ones among them", sorted(keys))
    ok(keys.get("ceremony_timeout", {}).get("range") and keys["ceremony_timeout"]["default"],
       "config.c: ranges and defaults extracted", lambda: keys.get("ceremony_timeout"))
    miss = missing_entries(text, "DESCRIPTION", "Cm", keys)
    ok(not miss, f"passkeyd.conf.5 has an .It Cm entry for each of the {len(keys)} keys",
       f"keys without an entry: {', '.join(miss)}")
    extra = sorted(set(entries(text, "DESCRIPTION", "Cm")) - set(keys))
    ok(not extra, "passkeyd.conf.5 documents no key the parser does not know",
       f"entries for unknown keys: {', '.join(extra)}")
    wanted = {}
    for k, info in keys.items():
        wanted[k] = (info["range"] or []) + ([info["default"]] if info["default"] else [])
    bad = entry_problems(text, "DESCRIPTION", "Cm", wanted)
    ok(not bad, "passkeyd.conf.5 states each key's range and default as config.c has them",
       "entries lacking a bound or default: " + "; ".join(bad))
    bad = entry_problems(text, "DESCRIPTION", "Cm", {k: sorted(i["words"]) for k, i in
                                                       keys.items()})
    ok(not bad, "passkeyd.conf.5 names every word a choice or list key accepts",
       "entries lacking a word: " + "; ".join(bad))
    # the comparisons can fail: the same page with one entry and one number gone
    first = sorted(keys)[0]
    cut = re.sub(r"^\.It Cm " + first + r"\b.*$", ".It Cm removed_for_the_test", text,
                 count=1, flags=re.M)
    ok(first in missing_entries(cut, "DESCRIPTION", "Cm", keys),
       f"the entry check notices a missing key ({first})")
    k = "ceremony_timeout"
    cut = text.replace("Default: " + str(keys[k]["default"]) + ".", "Default: none.", 1)
    ok(f"{k}: {keys[k]['default']}" in entry_problems(cut, "DESCRIPTION", "Cm",
                                                      {k: wanted[k]}),
       "the default check notices a wrong default")


def check_pam():
    opts = pam_options()
    text = page("pam_passkey.8")
    ok({"socket", "timeout", "nullok", "enroll", "qr", "daemon_user", "debug"} <= set(opts)
       and opts["timeout"]["range"] and opts["socket"]["default"]
       and {"none", "pending", "after-auth"} <= opts["enroll"]["values"],
       f"options.c: {len(opts)} options extracted with their values, range and defaults",
       opts)
    miss = missing_entries(text, "OPTIONS", "Cm", opts)
    ok(not miss, f"pam_passkey.8 has an .It Cm entry for each of the {len(opts)} options",
       f"options without an entry: {', '.join(miss)}")
    extra = sorted(set(entries(text, "OPTIONS", "Cm")) - set(opts))
    ok(not extra, "pam_passkey.8 documents no option the module does not take",
       f"entries for unknown options: {', '.join(extra)}")
    wanted = {n: sorted(i["values"]) + (i["range"] or []) + ([i["default"]] if i["default"]
                                                             else [])
              for n, i in opts.items()}
    bad = entry_problems(text, "OPTIONS", "Cm", wanted)
    ok(not bad, "pam_passkey.8 states each option's values, range and default",
       "entries lacking a value, bound or default: " + "; ".join(bad))
    synopsis = "\n".join(sections(text).get("SYNOPSIS", []))
    miss = sorted(n for n in opts if not re.search(r"\bCm " + re.escape(n) + r"\b", synopsis))
    ok(not miss, "pam_passkey.8's SYNOPSIS shows every option",
       f"not in the SYNOPSIS: {', '.join(miss)}")
    codes = pam_returns()
    ok({"PAM_SUCCESS", "PAM_AUTH_ERR"} <= codes, f"pam_passkey.c returns {sorted(codes)}")
    miss = missing_entries(text, "PAM RETURN VALUES", "Dv", codes)
    ok(not miss, "pam_passkey.8 explains each code the module returns",
       f"codes without an entry: {', '.join(miss)}")
    cut = re.sub(r"^\.It Cm qr\b.*$", ".It Cm removed_for_the_test", text, count=1, flags=re.M)
    ok("qr" in missing_entries(cut, "OPTIONS", "Cm", opts),
       "the entry check notices a missing option (qr)")


def check_passkeyd():
    flags, signals, exits = passkeyd_facts()
    text = page("passkeyd.8")
    ok({"--config", "--foreground", "--check-config"} <= flags and
       {"SIGTERM", "SIGHUP"} <= signals and {"0", "2"} <= exits,
       f"main.c: flags {sorted(flags)}, signals {sorted(signals)}, exits {sorted(exits)}")
    have = entries(text, "DESCRIPTION", "Fl")
    miss = sorted(f for f in flags if f[1:] not in have)
    ok(not miss, f"passkeyd.8 has an .It Fl entry for each of the {len(flags)} flags",
       f"flags without an entry: {', '.join(miss)}")
    extra = sorted("-" + f for f in have if "-" + f not in flags)
    ok(not extra, "passkeyd.8 documents no flag passkeyd does not take",
       f"entries for unknown flags: {', '.join(extra)}")
    synopsis = flag_words("\n".join(sections(text).get("SYNOPSIS", [])))
    ok(flags <= synopsis, "passkeyd.8's SYNOPSIS shows every flag",
       f"not in the SYNOPSIS: {', '.join(sorted(flags - synopsis))}")
    miss = missing_entries(text, "SIGNALS", "Dv", signals)
    ok(not miss, f"passkeyd.8 explains each of the {len(signals)} signals set_signals() handles",
       f"signals without an entry: {', '.join(miss)}")
    extra = sorted(set(entries(text, "SIGNALS", "Dv")) - signals)
    ok(not extra, "passkeyd.8 explains no signal passkeyd does not handle",
       f"entries for other signals: {', '.join(extra)}")
    have = {h.split()[0] for h, _ in items(sections(text).get("EXIT STATUS", []))}
    ok(exits == have, "passkeyd.8's EXIT STATUS lists exactly the codes main.c returns",
       f"the code returns {sorted(exits)}, the page lists {sorted(have)}")
    cut = re.sub(r"^\.It Dv SIGUSR1\b.*$", ".It Dv SIGNOTHING", text, count=1, flags=re.M)
    ok("SIGUSR1" in missing_entries(cut, "SIGNALS", "Dv", signals),
       "the entry check notices a missing signal (SIGUSR1)")


def check_passkeyctl():
    commands, flags, global_flags, exits = passkeyctl_facts()
    text = page("passkeyctl.1")
    names = [c for c, _ in commands]
    ok(len(names) >= 10 and {"add", "list", "enroll", "fleet", "verify-assertion"} <= set(names)
       and {"--json"} <= flags.get("list", set()) and {"-o", "--install"} <=
       flags.get("export-openssh", set()) and {"--no-wait"} <= flags.get("add", set()),
       f"passkeyctl: {len(names)} commands and their flags extracted",
       lambda: {c: sorted(f) for c, f in flags.items()})
    have = entries(text, "COMMANDS", "Cm")
    miss = sorted(c for c in names if c not in have)
    ok(not miss, f"passkeyctl.1 has an .It Cm entry for each of the {len(names)} commands",
       f"commands without an entry: {', '.join(miss)}")
    extra = sorted(set(have) - set(names))
    ok(not extra, "passkeyctl.1 documents no command passkeyctl does not have",
       f"entries for unknown commands: {', '.join(extra)}")
    synopsis = "\n".join(sections(text).get("SYNOPSIS", []))
    miss = sorted(c for c in names if not re.search(r"\bCm " + re.escape(c) + r"\b", synopsis))
    ok(not miss, "passkeyctl.1's SYNOPSIS shows every command",
       f"not in the SYNOPSIS: {', '.join(miss)}")
    for c in names:
        documented = flag_words(have.get(c, ""))
        accepted = flags[c] - {"--help"}
        ok(accepted <= documented and documented <= accepted,
           f"passkeyctl.1: the entry of {c} shows exactly its flags "
           f"({', '.join(sorted(accepted)) or 'none'})",
           lambda c=c, documented=documented, accepted=accepted:
           f"accepted but not shown: {', '.join(sorted(accepted - documented)) or '-'}; "
           f"shown but not accepted: {', '.join(sorted(documented - accepted)) or '-'}")
    lacking = sorted(c for c in names if "--help" not in flags[c])
    description = "\n".join(sections(text).get("DESCRIPTION", []))
    ok(not lacking and "--help" in flag_words(description),
       "every command takes --help, as passkeyctl.1 says",
       f"commands without --help: {', '.join(lacking)}")
    shown = flag_words(synopsis) | flag_words(description)
    ok(global_flags and global_flags <= shown,
       f"passkeyctl.1 shows the global flags ({', '.join(sorted(global_flags))})",
       f"not shown: {', '.join(sorted(global_flags - shown))}")
    have_exits = {h.split()[0] for h, _ in items(sections(text).get("EXIT STATUS", []))}
    ok(exits and exits == have_exits,
       "passkeyctl.1's EXIT STATUS lists exactly the codes of passkeyctl.h",
       f"passkeyctl.h has {sorted(exits)}, the page lists {sorted(have_exits)}")
    cut = text.replace("Fl -no-wait", "Fl -nowait")
    ok("--no-wait" not in flag_words(entries(cut, "COMMANDS", "Cm").get("add", "")),
       "the flag check notices a flag missing from its command's entry (--no-wait)")


def rp_functions():
    """The functions the RP core's public headers declare."""
    names = set()
    for h in RP_HEADERS:
        text = re.sub(r"/\*.*?\*/", "", read(os.path.join("rpcore", "include", h)), flags=re.S)
        names |= set(re.findall(r"^[A-Za-z][\w \t*]*?\b(rp_\w+)\(", text, re.M))
    return names


def page_functions(text, section):
    body = "\n".join(sections(text).get(section, []))
    return set(re.findall(r"^\.(?:Fn|Fo)\s+(rp_\w+)", body, re.M))


def check_rpcore():
    funcs = rp_functions()
    ok(len(funcs) >= 40 and {"rp_verify_assertion", "rp_err_code", "rp_b64url_decode"} <= funcs,
       f"rpcore/include declares {len(funcs)} functions", sorted(funcs))
    text = page("passkey_rp.3")
    shown = page_functions(text, "SYNOPSIS")
    ok(funcs == shown, "passkey_rp.3's SYNOPSIS shows exactly the public headers' functions",
       f"missing: {sorted(funcs - shown)}; not in the headers: {sorted(shown - funcs)}")
    heads = {"passkey_rp.h", "rp_b64url.h"}
    synopsis = "\n".join(sections(text).get("SYNOPSIS", []))
    ok(all(f".In {h}" in synopsis for h in heads), "passkey_rp.3 names the headers to include")
    build = read(os.path.join("rpcore", "meson.build"))
    m = re.search(r"install_headers\((.*?)\)", build, re.S)
    installed = {os.path.basename(x) for x in re.findall(r"'([^']+\.h)'", m.group(1))} if m else set()
    ok(installed == set(RP_HEADERS), "rpcore/meson.build installs exactly the public headers",
       sorted(installed))
    cut = re.sub(r"^\.Fn rp_err_str\b.*$", ".Fn rp_removed_for_the_test", text, count=1, flags=re.M)
    ok("rp_err_str" not in page_functions(cut, "SYNOPSIS"),
       "the function check notices a missing function (rp_err_str)")


def check_install():
    build = read(os.path.join("docs", "man", "meson.build"))
    m = re.search(r"install_man\((.*?)\)", build, re.S)
    installed = set(re.findall(r"'([^']+)'", m.group(1))) if m else set()
    ok(installed == set(PAGES), f"docs/man/meson.build installs the {len(PAGES)} pages",
       f"installs {sorted(installed)}")
    top = read("meson.build")
    ok(re.search(r"^subdir\('docs/man'\)", top, re.M),
       "the top-level meson.build includes docs/man")


def check_mandoc():
    mandoc = shutil.which("mandoc")
    if not ok(mandoc, "mandoc is installed (the lint checks need it)",
              "mandoc not found: install it (apt-get install mandoc; scripts/install-deps.sh "
              "lists it)"):
        return
    # An empty MANPATH: mandoc would otherwise also report on the system's
    # man page database (".Xr" lookups), which says nothing about the page.
    empty = tempfile.mkdtemp(prefix="manpath.")
    try:
        env = dict(os.environ, MANPATH=empty, LC_ALL="C")
        for p in PAGES:
            r = subprocess.run([mandoc, "-T", "lint", "-W", "warning",
                                os.path.join(ROOT, "docs", "man", p)],
                               capture_output=True, text=True, env=env, timeout=60)
            said = (r.stdout + r.stderr).strip()
            ok(r.returncode == 0 and not said, f"mandoc -T lint -W warning {p}: clean",
               f"exit {r.returncode}\n{said}")
    finally:
        os.rmdir(empty)


def check_groff():
    groff = shutil.which("groff")
    if groff is None:
        note("groff not found: the optional groff -mandoc -ww checks did not run")
        return
    for p in PAGES:
        r = subprocess.run([groff, "-mandoc", "-ww", "-z", os.path.join(ROOT, "docs", "man", p)],
                           capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"),
                           timeout=60)
        said = (r.stdout + r.stderr).strip()
        ok(r.returncode == 0 and not said, f"groff -mandoc -ww -z {p}: no warning",
           f"exit {r.returncode}\n{said}")


def main():
    note(f"sources and pages under {os.path.relpath(ROOT)}")
    for name, fn in (("passkeyd.conf.5", check_config), ("pam_passkey.8", check_pam),
                     ("passkeyd.8", check_passkeyd), ("passkeyctl.1", check_passkeyctl),
                     ("passkey_rp.3", check_rpcore),
                     ("install", check_install), ("mandoc", check_mandoc),
                     ("groff", check_groff)):
        with group(name):
            fn()
    return plan()


if __name__ == "__main__":
    sys.exit(main())
