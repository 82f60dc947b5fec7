"""Sanitising and text helpers: the one place that decides what markup a chapter may hold.

Why nh3 (ammonia), and how it is used
-------------------------------------
nh3 parses with html5ever, the same HTML5 tree-construction algorithm browsers run, and
ammonia (since 3.x) checks the namespace of every element against the way the HTML
parser can enter it: SVG only through ``<svg>``, MathML only through ``<math>``, HTML
inside foreign content only at the integration points the spec names. Anything else is
dropped. That is what defeats mutation XSS through ``math``/``svg``/``noscript``/``style``
(the payloads in ``tests/test_sanitise.py``): what the browser parses from our output is
the tree ammonia checked. So nh3 stays the sanitiser, and MathML and SVG are allowed by
listing their elements and attributes; nothing of ours re-serialises nh3's output.

Sanitising is two steps, always in this order:

1. ``prepare()``, on an lxml tree, for fidelity only: XML namespaces become plain names
   (``xml:lang`` -> ``lang``, ``epub:type`` -> ``data-epub-type``, ``xlink:href`` ->
   ``href``), ``<a name>`` becomes an ``id``, ids on elements that will be stripped are
   kept on an empty ``span``, links and pictures are resolved by a links policy
   (``books.links``), pictures that do not resolve become their ``alt`` text.
2. ``nh3.clean()`` with the allowlists below and ``_attribute_filter``, which admits only
   the URL forms step 1 writes (a fragment, a chapter or picture URL of this API,
   ``http(s):``/``mailto:``), ``url(#local)`` references in SVG paint, and inline
   ``style`` that cannot load anything. This step alone is the security boundary: it
   holds whatever step 1 (or libxml2's parse of hostile input) produced.

EPUB documents are XHTML: they are parsed as XML (so ``<a id="x"/>`` or ``<script/>``
cannot swallow the text after them, as an HTML parser would make them), prepared, and
serialised as HTML for step 2. HTML sent in JSON is parsed with lxml's HTML parser.
Both parsers run with ``huge_tree`` so no text block is dropped for its size.

SVG *files* (pictures of the book) are XML served as ``image/svg+xml``, which the browser
parses as XML too: ``sanitize_svg`` whitelists their tree directly with the same lists.
"""

import html
import math
import re

import lxml.etree
import lxml.html
import nh3

from books.links import API_ROOT, ContentLinks

WORDS_PER_MINUTE = 200

XHTML_NS = "http://www.w3.org/1999/xhtml"
SVG_NS = "http://www.w3.org/2000/svg"
MATHML_NS = "http://www.w3.org/1998/Math/MathML"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
OPS_NS = "http://www.idpf.org/2007/ops"

# --- what a chapter may hold ---------------------------------------------------------

_HTML_TAGS = {
    *("a", "abbr", "acronym", "address", "article", "aside", "b", "bdi", "bdo", "big", "blockquote", "br"),
    *("caption", "center", "cite", "code", "col", "colgroup", "data", "dd", "del", "details", "dfn", "div"),
    *("dl", "dt", "em", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header"),
    *("hgroup", "hr", "i", "img", "ins", "kbd", "li", "main", "mark", "nav", "ol", "p", "pre", "q", "rb"),
    *("rp", "rt", "rtc", "ruby", "s", "samp", "section", "small", "span", "strike", "strong", "sub"),
    *("summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul"),
    *("var", "wbr"),
}
_SVG_TAGS = {
    *("svg", "g", "defs", "symbol", "use", "title", "desc", "path", "rect", "circle", "ellipse", "line"),
    *("polyline", "polygon", "text", "tspan", "textPath", "linearGradient", "radialGradient", "stop"),
    *("clipPath", "mask", "pattern", "marker", "image"),
}
_MATHML_TAGS = {
    *("math", "mi", "mn", "mo", "ms", "mspace", "mtext", "mrow", "mfrac", "msqrt", "mroot", "mstyle"),
    *("merror", "mpadded", "mphantom", "mfenced", "menclose", "msub", "msup", "msubsup", "munder", "mover"),
    *("munderover", "mmultiscripts", "mprescripts", "none", "mtable", "mtr", "mtd", "mlabeledtr"),
    *("semantics", "annotation"),
}
ALLOWED_TAGS = _HTML_TAGS | _SVG_TAGS | _MATHML_TAGS

# Removed with everything inside them (the rest of what is not allowed keeps its text).
_DROPPED_WITH_CONTENT = {
    *("script", "style", "template", "foreignObject", "annotation-xml", "noembed", "noframes", "iframe"),
    *("object", "embed", "head", "animate", "animateMotion", "animateTransform", "animateColor", "set"),
    *("discard", "mglyph", "select", "textarea", "button", "input", "frameset", "applet"),
}

_GLOBAL_ATTRIBUTES = {
    *("id", "class", "lang", "dir", "title", "role", "data-epub-type", "style"),
    *("aria-label", "aria-labelledby", "aria-describedby", "aria-hidden"),
}
_HTML_ATTRIBUTES = {
    "a": {"href", "hreflang", "data-chapter"},
    "img": {"src", "alt", "width", "height"},
    "ol": {"start", "reversed", "type"},
    "ul": {"type"},
    "li": {"value"},
    "td": {"colspan", "rowspan", "headers", "abbr"},
    "th": {"colspan", "rowspan", "headers", "abbr", "scope"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "time": {"datetime"},
    "del": {"datetime"},
    "ins": {"datetime"},
    "data": {"value"},
    "details": {"open"},
}
_SVG_ATTRIBUTES = {
    *("viewBox", "preserveAspectRatio", "width", "height", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy"),
    *("r", "rx", "ry", "fx", "fy", "d", "points", "transform", "pathLength", "fill", "fill-opacity"),
    *("fill-rule", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin", "stroke-miterlimit"),
    *("stroke-dasharray", "stroke-dashoffset", "stroke-opacity", "opacity", "offset", "stop-color"),
    *("stop-opacity", "gradientUnits", "gradientTransform", "spreadMethod", "text-anchor"),
    *("dominant-baseline", "alignment-baseline", "baseline-shift", "font-family", "font-size"),
    *("font-weight", "font-style", "font-variant", "letter-spacing", "word-spacing", "text-decoration"),
    *("writing-mode", "dx", "dy", "rotate", "textLength", "lengthAdjust", "startOffset", "clip-path"),
    *("clip-rule", "clipPathUnits", "mask", "maskUnits", "maskContentUnits", "patternUnits"),
    *("patternContentUnits", "patternTransform", "marker-start", "marker-mid", "marker-end"),
    *("markerWidth", "markerHeight", "markerUnits", "refX", "refY", "orient", "vector-effect"),
    *("color", "display", "visibility", "overflow", "version", "href"),
}
_MATHML_ATTRIBUTES = {
    *("display", "mathvariant", "mathsize", "mathcolor", "mathbackground", "displaystyle", "scriptlevel"),
    *("linethickness", "fence", "separator", "stretchy", "symmetric", "largeop", "movablelimits"),
    *("accent", "accentunder", "lspace", "rspace", "minsize", "maxsize", "form", "columnalign"),
    *("rowalign", "columnspan", "rowspan", "columnlines", "rowlines", "columnspacing", "rowspacing"),
    *("frame", "notation", "open", "close", "separators", "width", "height", "depth", "voffset"),
    *("encoding", "alttext", "numalign", "denomalign", "bevelled", "align"),
    *("subscriptshift", "superscriptshift"),
}
ALLOWED_ATTRIBUTES = {
    "*": _GLOBAL_ATTRIBUTES,
    **_HTML_ATTRIBUTES,
    **{tag: set(_SVG_ATTRIBUTES) for tag in _SVG_TAGS},
    **{tag: set(_MATHML_ATTRIBUTES) for tag in _MATHML_TAGS},
}
ALLOWED_ATTRIBUTES["a"] = _HTML_ATTRIBUTES["a"] | {"x", "y"}  # HTML and SVG share the name
ALLOWED_ATTRIBUTES["title"] = set()  # SVG's title; global attributes still apply
ALLOWED_ATTRIBUTES["use"] = {"href", "x", "y", "width", "height", "transform"}
ALLOWED_ATTRIBUTES["image"] = {"href", "x", "y", "width", "height", "transform", "preserveAspectRatio", "opacity"}

# Inline style: declarations of these properties, and nothing that can load anything.
_STYLE_PROPERTIES = {
    *("color", "background-color", "font-style", "font-weight", "font-variant", "font-size", "font-family"),
    *("line-height", "letter-spacing", "word-spacing", "text-align", "text-indent", "text-decoration"),
    *("text-transform", "vertical-align", "white-space", "direction", "unicode-bidi", "writing-mode"),
    *("text-combine-upright", "text-orientation", "margin", "margin-top", "margin-right", "margin-bottom"),
    *("margin-left", "padding", "padding-top", "padding-right", "padding-bottom", "padding-left"),
    *("border", "border-top", "border-right", "border-bottom", "border-left", "border-color"),
    *("border-style", "border-width", "border-collapse", "width", "height", "max-width", "min-width"),
    *("float", "clear", "display", "list-style-type", "list-style-position", "page-break-before"),
    *("page-break-after", "break-before", "break-after", "fill", "stroke", "stroke-width", "opacity"),
}
# Anything that could fetch, execute or hide a fetch behind an escape or a comment.
_UNSAFE_STYLE = re.compile(r"\\|url|image|expression|@|javascript|binding|behavior|src|/\*|&", re.IGNORECASE)
# SVG paint and references: only to an element of the same document.
_URL_VALUED = {"fill", "stroke", "clip-path", "mask", "filter", "marker-start", "marker-mid", "marker-end"}
_LOCAL_REFERENCE = re.compile(r"\s*url\(\s*#[^\s()\"'\\]+\s*\)\s*[\w#-]*\s*")

# The only URL forms content may hold (step 1 writes them; step 2 lets nothing else through).
_FRAGMENT = re.compile(r"#[^\s\"<>]*")
_CHAPTER_URL = re.compile(re.escape(API_ROOT) + r"books/\d+/chapters/\d+/(?:#[^\s\"<>]*)?")
_RESOURCE_URL = re.compile(re.escape(API_ROOT) + r"books/\d+/resources/[^\s\"<>?#]+")
_EXTERNAL_URL = re.compile(r"(?:https?://[^\s\"<>]+|mailto:[^\s\"<>]+)", re.IGNORECASE)
LINK_REL = "noopener noreferrer nofollow"

_WORD = re.compile(r"\w+", re.UNICODE)
# Over sanitised markup (nh3's serialisation: every "<" in text is "&lt;", attribute
# values are double-quoted with "<", ">" and '"' escaped): a tag, an entity, or a word.
_TAG_ENTITY_OR_WORD = re.compile(r"<[^>]*>|&[#\w]+;|(\w+)", re.UNICODE)


def _attribute_filter(tag, attribute, value):
    if attribute in ("href", "src"):
        if tag == "a" and attribute == "href":
            ok = _FRAGMENT.fullmatch(value) or _CHAPTER_URL.fullmatch(value) or _EXTERNAL_URL.fullmatch(value)
        elif tag == "use":
            ok = _FRAGMENT.fullmatch(value)
        else:  # img src, SVG image href
            ok = _RESOURCE_URL.fullmatch(value)
        return value if ok else None
    if attribute == "style":
        return None if _UNSAFE_STYLE.search(value) else value
    if attribute in _URL_VALUED and "url" in value.lower():
        return value if _LOCAL_REFERENCE.fullmatch(value) else None
    if attribute == "data-chapter":
        return value if value.isdecimal() else None
    return value


_CLEANER = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags=_DROPPED_WITH_CONTENT - ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    attribute_filter=_attribute_filter,
    link_rel=LINK_REL,
    url_schemes={"http", "https", "mailto"},
    filter_style_properties=_STYLE_PROPERTIES,
    strip_comments=True,
)


# --- step 1: prepare a tree --------------------------------------------------------

_NAMESPACED_ATTRIBUTES = {
    f"{{{XML_NS}}}lang": "lang",
    f"{{{OPS_NS}}}type": "data-epub-type",
    f"{{{XLINK_NS}}}href": "href",
    # The same names as an HTML parser leaves them.
    "xml:lang": "lang",
    "epub:type": "data-epub-type",
    "xlink:href": "href",
}
_OWN_NAMESPACES = {XHTML_NS, SVG_NS, MATHML_NS}
# Not allowed, and stripped keeping their text, whatever they were.
FOREIGN = "x-foreign"
_FOREIGN_ROOTS = {"svg", "math"}
# HTML parses their content as text: outside SVG they are unwrapped before serialising.
_RAW_TEXT = {"noscript", "xmp", "plaintext", "listing", "title", "noframes"}


def normalise(root):
    """Give an XHTML tree (or an HTML parser's tree) plain element and attribute names.

    Elements of other namespaces become ``x-foreign`` (stripped later, their text kept),
    except that ``epub:switch`` keeps one case; attributes of other namespaces go;
    comments and processing instructions go. Works in place; returns the root.
    """
    _resolve_switches(root)
    removed = []
    for element in root.iter():
        if not isinstance(element.tag, str):  # comment, processing instruction, entity
            removed.append(element)
            continue
        try:
            element.tag = _plain_name(element.tag)
        except ValueError:  # a name the HTML parser let through that lxml refuses ("g¤<")
            element.tag = FOREIGN
        if element.attrib:
            _rename_attributes(element)
    for element in removed:
        _remove_keeping_tail(element)
    lxml.etree.cleanup_namespaces(root)
    return root


def _plain_name(tag):
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return local if namespace in _OWN_NAMESPACES else FOREIGN
    return FOREIGN if ":" in tag else tag


def _rename_attributes(element):
    attributes = dict(element.attrib)
    element.attrib.clear()
    for name, value in attributes.items():
        renamed = _NAMESPACED_ATTRIBUTES.get(name)
        if renamed is None:
            if name.startswith("{") or ":" in name:
                continue  # any other namespaced attribute
            renamed = name
        if renamed not in element.attrib or name == renamed:
            element.set(renamed, value)


def _resolve_switches(root):
    """EPUB 3.0's ``epub:switch``: the first case we render (MathML, SVG), else the default."""
    for switch in list(root.iter(f"{{{OPS_NS}}}switch")):
        cases = [case for case in switch if isinstance(case.tag, str)]
        rendered = [c for c in cases if c.tag == f"{{{OPS_NS}}}case" and c.get("required-namespace") in _FOREIGN_NS]
        fallback = [c for c in cases if c.tag == f"{{{OPS_NS}}}default"]
        chosen = (rendered or fallback or [None])[0]
        for case in cases:
            if case is not chosen:
                switch.remove(case)  # its tail is whitespace between cases


_FOREIGN_NS = {SVG_NS, MATHML_NS}


def prepare(root, links):
    """Step 1 on a normalised tree whose content is ``root``'s children (see the module doc)."""
    dropped, replaced, marked = [], [], []
    for element in root.iter():
        tag = element.tag
        if element is root:
            continue
        if tag in _DROPPED_WITH_CONTENT:
            dropped.append(element)
            continue
        if tag in _RAW_TEXT and not _in_foreign_content(element):
            element.tag = tag = FOREIGN
        if tag == "a":
            if element.get("name") and not element.get("id"):
                element.set("id", element.get("name"))
            _link(element, links)
        elif tag == "img":
            url = links.picture(element.get("src", "").strip())
            if url is None:
                replaced.append(element)
            else:
                element.set("src", url)
        elif tag == "image":
            url = links.picture(element.get("href", "").strip())
            if url is None:
                dropped.append(element)
            else:
                element.set("href", url)
        elif tag == "use" and not _FRAGMENT.fullmatch(element.get("href", "")):
            element.attrib.pop("href", None)
        if tag not in ALLOWED_TAGS and element.get("id") and not _in_foreign_content(element):
            marked.append(element)
    for element in marked:
        _keep_id(element)
    for element in replaced:
        element.tail = (element.get("alt") or "") + (element.tail or "")
        _remove_keeping_tail(element)
    for element in dropped:
        _remove_keeping_tail(element)
    return root


def _link(element, links):
    element.attrib.pop("data-chapter", None)
    href = element.get("href")
    if href is None:
        return
    resolved = links.link(href.strip())
    if resolved is None:
        del element.attrib["href"]
        return
    element.set("href", resolved.href)
    if resolved.chapter is not None:
        element.set("data-chapter", str(resolved.chapter))


def _in_foreign_content(element):
    return any(ancestor.tag in _FOREIGN_ROOTS for ancestor in element.iterancestors())


def _keep_id(element):
    """An element nh3 will strip loses its id: keep the id on an empty span in its place."""
    marker = lxml.etree.Element("span", id=element.get("id"))
    marker.tail, element.text = element.text, None
    element.insert(0, marker)


def _remove_keeping_tail(element):
    """Remove an element (with its content) and keep the text that follows it."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    if tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


# --- the two ways in -----------------------------------------------------------------


def sanitize_tree(root, links=None):
    """Sanitised HTML of ``root``'s content (a normalised tree; ``root`` itself is left out).

    ``links`` (books.links) says where links and pictures may point; without one, only
    fragments and ``http(s):``/``mailto:`` links are kept, and no picture.

    The tree is consumed: each part is freed once serialised. nh3 sees the content in
    pieces of about ``_PIECE_CHARS`` (see ``_clean_content``), so sanitising a large
    chapter never holds more than one piece's worth of nh3's own copies.
    """
    prepare(root, links if links is not None else ContentLinks())
    pieces = []
    _clean_content(root, pieces)
    root.clear()
    _strip(pieces)
    return "".join(pieces)


def _strip(pieces):
    """Strip the whitespace around the joined pieces without copying the large ones."""
    for index in range(len(pieces)):
        pieces[index] = pieces[index].lstrip()
        if pieces[index]:
            break
    for index in reversed(range(len(pieces))):
        pieces[index] = pieces[index].rstrip()
        if pieces[index]:
            break


# Flow containers whose content nh3 may see in pieces: their content is parsed in the
# same insertion mode as nh3's fragment context (a div), and no piece leaves anything
# open, so the browser parses each piece of the joined answer as nh3 parsed it. Tables,
# lists, paragraphs, SVG and MathML are never split.
_SPLIT_CONTAINERS = {"div", "section", "article", "aside", "main", "header", "footer", "nav", "blockquote", FOREIGN}
_PIECE_CHARS = 256 * 1024


def _clean_content(element, pieces):
    """Append the sanitised content of ``element`` to pieces, freeing its children as it goes."""
    pending = [html.escape(element.text, quote=False)] if element.text else []
    size = len(pending[0]) if pending else 0
    while (child := next(iter(element), None)) is not None:
        tail = child.tail
        if child.tag in _SPLIT_CONTAINERS and _longer_than(child, _PIECE_CHARS):
            _flush(pending, pieces)
            size = 0
            opening, closing = _shell(child)
            pieces.append(opening)
            _clean_content(child, pieces)
            pieces.append(closing)
        else:
            markup = lxml.etree.tostring(child, method="html", encoding="unicode", with_tail=False)
            if len(markup) >= _PIECE_CHARS:  # a piece of its own (no copy of it when joining)
                _flush(pending, pieces)
                size = 0
            pending.append(markup)
            size += len(markup)
            del markup
        if tail:
            pending.append(html.escape(tail, quote=False))
            size += len(tail)
        element.remove(child)
        del child
        if size >= _PIECE_CHARS:
            _flush(pending, pieces)
            size = 0
    _flush(pending, pieces)


def _flush(pending, pieces):
    if pending:
        pieces.append(_CLEANER.clean("".join(pending)))
        pending.clear()


def _shell(element):
    """The sanitised start and end tags of a container (both empty when nh3 drops it)."""
    empty = lxml.etree.Element(element.tag, dict(element.attrib))
    cleaned = _CLEANER.clean(lxml.etree.tostring(empty, method="html", encoding="unicode"))
    closing = f"</{element.tag}>"
    if cleaned.endswith(closing):
        return cleaned[: -len(closing)], closing
    return cleaned, ""


def _longer_than(element, limit):
    total = 0
    for text in element.itertext():
        total += len(text)
        if total > limit:
            return True
    return False


def sanitize_html(markup, links=None):
    """Sanitised HTML of an HTML fragment (content sent in JSON, an edit, the admin)."""
    if not markup or not markup.strip():
        return ""
    root = parse_fragment(markup)
    return sanitize_tree(normalise(root), links) if root is not None else ""


def parse_fragment(markup):
    parser = lxml.html.HTMLParser(huge_tree=True, remove_comments=True)
    try:
        document = lxml.html.document_fromstring(f"<html><body>{markup}</body></html>", parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return None
    return document.find("body")


# --- SVG files -----------------------------------------------------------------------

_SVG_FILE_TAGS = {f"{{{SVG_NS}}}{tag}" for tag in _SVG_TAGS | {"a"}}


def sanitize_svg(data):
    """The bytes of a sanitised SVG file, or None when it is not an SVG document.

    The browser parses an SVG file as XML, as lxml does here, so its tree is whitelisted
    directly: elements outside the SVG allowlist go with their content (an SVG file has
    no HTML text to keep), attributes follow the inline rules, and ``use``/``a`` may only
    point at fragments of the file. ``image`` loses its reference: a picture shown with
    ``<img>`` never loads anything else, and a URL of ours would expire inside the file.
    """
    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, load_dtd=False)
    try:
        root = lxml.etree.fromstring(data, parser=parser)
    except (lxml.etree.XMLSyntaxError, ValueError):
        return None
    if root is None or root.tag != f"{{{SVG_NS}}}svg":
        return None
    removed = []
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag in _SVG_FILE_TAGS:
            _svg_file_attributes(element)
        else:
            removed.append(element)
    for element in removed:
        if element.getparent() is not None:
            element.getparent().remove(element)
    lxml.etree.cleanup_namespaces(root)
    return lxml.etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _svg_file_attributes(element):
    tag = lxml.etree.QName(element).localname
    allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | _GLOBAL_ATTRIBUTES
    attributes = dict(element.attrib)
    element.attrib.clear()
    for name, value in attributes.items():
        plain = _NAMESPACED_ATTRIBUTES.get(name, name)
        if plain not in allowed:
            continue
        if plain == "href":
            if tag in ("use", "a") and _FRAGMENT.fullmatch(value.strip()):
                element.set(f"{{{XLINK_NS}}}href", value.strip())  # SVG 1.1 viewers know only xlink:href
            continue
        kept = _attribute_filter(tag, plain, value)
        if kept is not None:
            element.set(f"{{{XML_NS}}}lang" if plain == "lang" else plain, kept)


# --- text ----------------------------------------------------------------------------


def plain_text(markup):
    return html.unescape(nh3.clean(markup or "", tags=set()))


def count_words(markup):
    """Words of sanitised markup, read in place (no copy of a chapter is made to count it)."""
    return sum(1 for match in _TAG_ENTITY_OR_WORD.finditer(markup or "") if match.lastindex)


def reading_time_minutes(word_count):
    return math.ceil(word_count / WORDS_PER_MINUTE) if word_count else 0
