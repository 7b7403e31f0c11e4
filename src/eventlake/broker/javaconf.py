"""Java `.properties` and Kafka JAAS syntax: writing values safely, and reading them as Java does.

Kafka reads `server.properties` with `java.util.Properties.load(InputStream)` (ISO-8859-1,
backslash escapes, `\\uXXXX`), and the value of `...sasl.jaas.config` with its `JaasConfig`
class (a `java.io.StreamTokenizer`: words, `=`, `;`, quoted strings with C-like escapes).
A value written by eventlake goes through both layers, so it is escaped for both here.

The readers (`load_properties`, `parse_jaas`) follow the Java code line by line; the broker
reads its own output back with them before Kafka sees it, and the tests compare them with
Java itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# ---- java.util.Properties

_PROPS_ESCAPES = {
    "\\": "\\\\",
    "\t": "\\t",
    "\n": "\\n",
    "\r": "\\r",
    "\f": "\\f",
    "=": "\\=",
    ":": "\\:",
    "#": "\\#",
    "!": "\\!",
}


def escape_property(text: str, *, key: bool = False) -> str:
    """`text` as Java's `Properties.store` writes it (ASCII only; `\\uXXXX` beyond it).

    Spaces are escaped everywhere in a key and at the start of a value (where `load`
    would strip them); separators, comment marks, backslashes and line breaks always.
    """
    out: list[str] = []
    for i, ch in enumerate(text):
        code = ord(ch)
        if ch == " ":
            out.append("\\ " if key or i == 0 else " ")
        elif ch in _PROPS_ESCAPES:
            out.append(_PROPS_ESCAPES[ch])
        elif code < 0x20 or code > 0x7E:
            # Java strings are UTF-16: a character beyond the BMP is a surrogate pair.
            units = ch.encode("utf-16-be", "surrogatepass")
            out.extend(f"\\u{int.from_bytes(units[j : j + 2], 'big'):04X}" for j in range(0, len(units), 2))
        else:
            out.append(ch)
    return "".join(out)


def dump_properties(props: Mapping[str, str]) -> str:
    """A `.properties` text, pure ASCII, that Java loads back into exactly `props`."""
    return "".join(f"{escape_property(k, key=True)}={escape_property(v)}\n" for k, v in props.items())


class PropertiesSyntaxError(ValueError):
    """Text that `java.util.Properties.load` would refuse (a malformed `\\uXXXX`)."""


def load_properties(data: bytes | str) -> list[tuple[str, str]]:
    """Every (key, value) in file order, as `java.util.Properties.load(InputStream)` reads them.

    Bytes are decoded as ISO-8859-1, as `load(InputStream)` does. Duplicates are kept
    (Java keeps the last one); `dict(load_properties(...))` gives what Java would hold.
    """
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    pairs: list[tuple[str, str]] = []
    for line in _logical_lines(text):
        pairs.append(_split_key_value(line))
    return pairs


def _logical_lines(text: str) -> list[str]:
    """java.util.Properties.LineReader: comments, blank lines, continuations, CR/LF/CRLF."""
    lines: list[str] = []
    i, n = 0, len(text)
    while i < n:
        # Start of a natural line that begins a logical line: skip leading white space.
        while i < n and text[i] in " \t\f":
            i += 1
        if i >= n:
            break
        if text[i] in "\r\n":  # blank line
            i += 1
            continue
        if text[i] in "#!":  # a comment: the rest of this natural line, no continuation
            while i < n and text[i] not in "\r\n":
                i += 1
            continue
        buf: list[str] = []
        while True:
            backslashes = 0
            while i < n and text[i] not in "\r\n":
                ch = text[i]
                buf.append(ch)
                backslashes = backslashes + 1 if ch == "\\" else 0
                i += 1
            if backslashes % 2 == 1 and i < n:
                # An odd number of trailing backslashes joins the next natural line.
                buf.pop()
                if text[i] == "\r" and i + 1 < n and text[i + 1] == "\n":
                    i += 2
                else:
                    i += 1
                while i < n and text[i] in " \t\f":
                    i += 1
                continue
            if backslashes % 2 == 1:  # a backslash at the very end of the input is dropped
                buf.pop()
            if i < n:
                i += 1  # the line terminator (a following LF is a blank line, skipped above)
            break
        lines.append("".join(buf))
    return lines


def _split_key_value(line: str) -> tuple[str, str]:
    """Properties.load0: the key ends at an unescaped `=`, `:` or white space."""
    n = len(line)
    key_len = 0
    value_start = n
    has_sep = False
    preceding_backslash = False
    while key_len < n:
        c = line[key_len]
        if c in "=:" and not preceding_backslash:
            value_start = key_len + 1
            has_sep = True
            break
        if c in " \t\f" and not preceding_backslash:
            value_start = key_len + 1
            break
        preceding_backslash = (not preceding_backslash) if c == "\\" else False
        key_len += 1
    while value_start < n:
        c = line[value_start]
        if c not in " \t\f":
            if not has_sep and c in "=:":
                has_sep = True
            else:
                break
        value_start += 1
    return _load_convert(line[:key_len]), _load_convert(line[value_start:])


_LOAD_ESCAPES = {"t": "\t", "r": "\r", "n": "\n", "f": "\f"}


def _load_convert(raw: str) -> str:
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        i += 1
        if ch != "\\":
            out.append(ch)
            continue
        if i >= n:  # cannot happen after _logical_lines; Java would read past the end
            break
        ch = raw[i]
        i += 1
        if ch == "u":
            digits = raw[i : i + 4]
            if len(digits) < 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise PropertiesSyntaxError("Malformed \\uxxxx encoding.")
            out.append(chr(int(digits, 16)))
            i += 4
        else:
            out.append(_LOAD_ESCAPES.get(ch, ch))
    # Java strings may hold surrogate pairs written as two \\uXXXX: join them as Java would show them.
    return "".join(out).encode("utf-16-be", "surrogatepass").decode("utf-16-be", "surrogatepass")


# ---- Kafka's JaasConfig (sasl.jaas.config)


def jaas_quote(value: str) -> str:
    """`value` as a double-quoted JAAS option value that Kafka's parser reads back exactly.

    StreamTokenizer ends a quoted string at an unescaped quote, CR or LF, and gives a
    backslash its C meaning; so those four are escaped, everything else is literal.
    """
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


class JaasSyntaxError(ValueError):
    """A JAAS config that Kafka's `JaasConfig` would refuse."""


@dataclass
class JaasEntry:
    login_module: str
    control_flag: str
    options: dict[str, str] = field(default_factory=dict)


_TT_EOF, _TT_WORD = -1, -3
_FLAGS = {"REQUIRED", "REQUISITE", "SUFFICIENT", "OPTIONAL"}


class _Tokenizer:
    """java.io.StreamTokenizer with the syntax `org.apache.kafka.common.security.JaasConfig` sets.

    resetSyntax; wordChars(32, 128) and (160, 255); ordinary `;` and `=`; whitespace 0..32;
    comment `/`; quotes `"` and `'`; `//` and `/* */` comments. Characters above 255 are words.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.ttype = 0
        self.sval: str | None = None

    def _read(self) -> int:
        if self.pos >= len(self.text):
            return -1
        c = ord(self.text[self.pos])
        self.pos += 1
        return c

    def _unread(self) -> None:
        self.pos -= 1

    @staticmethod
    def _kind(c: int) -> str:
        if c >= 256:
            return "word"
        if c <= 32:
            return "space"
        if c in (ord('"'), ord("'")):
            return "quote"
        if c == ord("/"):
            return "comment"
        if c in (ord(";"), ord("=")):
            return "ordinary"
        if 32 <= c <= 128 or 160 <= c <= 255:
            return "word"
        return "ordinary"  # 129..159: resetSyntax left them ordinary

    def next_token(self) -> int:
        self.sval = None
        c = self._read()
        while c >= 0 and self._kind(c) == "space":
            c = self._read()
        if c < 0:
            self.ttype = _TT_EOF
            return self.ttype
        if c == ord("/"):
            # slashStarComments / slashSlashComments take precedence over the comment char.
            nxt = self._read()
            if nxt == ord("*"):
                prev = 0
                c = self._read()
                while c >= 0 and not (c == ord("/") and prev == ord("*")):
                    prev, c = c, self._read()
                if c < 0:
                    self.ttype = _TT_EOF
                    return self.ttype
                return self.next_token()
            # `//` or a lone `/` (the comment char): skip to the end of the line. Like Java,
            # the character right after the `/` is not looked at again.
            c = self._read() if nxt >= 0 else -1
            while c >= 0 and c not in (10, 13):
                c = self._read()
            if c < 0:
                self.ttype = _TT_EOF
                return self.ttype
            return self.next_token()
        kind = self._kind(c)
        if kind == "word":
            chars = [chr(c)]
            c = self._read()
            while c >= 0 and self._kind(c) == "word":
                chars.append(chr(c))
                c = self._read()
            if c >= 0:
                self._unread()
            self.ttype, self.sval = _TT_WORD, "".join(chars)
            return self.ttype
        if kind == "quote":
            self.ttype = c
            self.sval = self._quoted(c)
            return self.ttype
        self.ttype = c
        return self.ttype

    def _quoted(self, quote: int) -> str:
        out: list[str] = []
        d = self._read()
        while d >= 0 and d != quote and d not in (10, 13):
            if d == ord("\\"):
                c = self._read()
                first = c
                if ord("0") <= c <= ord("7"):
                    c -= ord("0")
                    c2 = self._read()
                    if ord("0") <= c2 <= ord("7"):
                        c = (c << 3) + (c2 - ord("0"))
                        c2 = self._read()
                        if ord("0") <= c2 <= ord("7") and first <= ord("3"):
                            c = (c << 3) + (c2 - ord("0"))
                            d = self._read()
                        else:
                            d = c2
                    else:
                        d = c2
                else:
                    c = {
                        ord("a"): 7,
                        ord("b"): 8,
                        ord("f"): 12,
                        ord("n"): 10,
                        ord("r"): 13,
                        ord("t"): 9,
                        ord("v"): 11,
                    }.get(c, c)
                    d = self._read()
                if c < 0:  # a backslash at the very end: Java stores (char) -1
                    c = 0xFFFF
            else:
                c = d
                d = self._read()
            out.append(chr(c))
        # A closing quote is consumed; a line end or EOF is left for the next token.
        if d >= 0 and d != quote:
            self._unread()
        return "".join(out)


def parse_jaas(text: str) -> list[JaasEntry]:
    """The login modules and options Kafka's `JaasConfig` reads from a `sasl.jaas.config` value."""
    tok = _Tokenizer(text)
    entries: list[JaasEntry] = []
    while tok.next_token() != _TT_EOF:
        module = tok.sval
        if tok.next_token() == _TT_EOF:
            raise JaasSyntaxError("Login module control flag not specified in JAAS config")
        flag = tok.sval
        if flag is None or flag.upper() not in _FLAGS:
            raise JaasSyntaxError(f"Invalid login module control flag '{flag}' in JAAS config")
        entry = JaasEntry(str(module), flag.upper())
        while tok.next_token() != _TT_EOF and tok.ttype != ord(";"):
            key = tok.sval
            if tok.next_token() != ord("=") or tok.next_token() == _TT_EOF or tok.sval is None:
                raise JaasSyntaxError(f"Value not specified for key '{key}' in JAAS config")
            entry.options[str(key)] = tok.sval
        if tok.ttype != ord(";"):
            raise JaasSyntaxError("JAAS config entry not terminated by semi-colon")
        entries.append(entry)
    if not entries:
        raise JaasSyntaxError("Login module not specified in JAAS config")
    return entries
