"""books.text: what a chapter keeps (structure, maths, drawings) and what never gets through.

Outputs are checked the way a browser would read them: parsed by html5lib (an
independent implementation of the HTML5 parsing algorithm, foreign content included),
so a payload that only turns dangerous when re-parsed (mutation XSS) is caught too.
"""

import html5lib
import lxml.etree
import pytest

from books import text
from books.links import ContentLinks
from books.text import count_words, sanitize_html, sanitize_svg, sanitize_tree

SVG = "{http://www.w3.org/2000/svg}"
MATHML = "{http://www.w3.org/1998/Math/MathML}"
DANGEROUS_ELEMENTS = {
    *("script", "style", "iframe", "object", "embed", "form", "input", "button", "textarea", "base", "meta"),
    *("link", "frame", "frameset", "applet", "template", "noscript", "xmp", "plaintext", "foreignobject"),
    *("animate", "animatemotion", "animatetransform", "animatecolor", "set", "discard", "annotation-xml"),
    *("mglyph", "maction", "feimage", "handler", "listener"),
}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background", "xlink:href", "srcset"}


def browser_tree(markup):
    """The body a browser builds from a page holding ``markup`` (html5lib, namespaces kept)."""
    document = html5lib.parse(f"<!DOCTYPE html><body>{markup}", treebuilder="lxml", namespaceHTMLElements=False)
    return document.getroot().find("body")


def local(name):
    return name.rsplit("}", 1)[-1].lower()


def assert_harmless(markup):
    """Nothing a browser would run, load from outside the book, or parse differently next time."""
    for element in browser_tree(markup).iter():
        if not isinstance(element.tag, str):
            continue
        assert local(element.tag) not in DANGEROUS_ELEMENTS, markup
        for name, value in element.attrib.items():
            name = local(name)
            assert not name.startswith("on"), markup
            squeezed = "".join(ch for ch in value.lower() if ch > " ")
            if name in URL_ATTRIBUTES:
                assert not squeezed.startswith(("javascript:", "data:", "vbscript:", "//")), markup
                assert squeezed.startswith(("#", "/api/v1/books/", "http://", "https://", "mailto:")), markup
            if name == "style":
                assert "url(" not in squeezed and "expression" not in squeezed and "@import" not in squeezed
    # A browser that parses the answer and serialises it again gets the same markup: no mutation.
    assert text._CLEANER.clean(markup) == markup


def xhtml_body(body):
    """The body of an XHTML document as the EPUB import parses it (XML, then normalised)."""
    document = (
        '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" '
        'xmlns:m="http://www.w3.org/1998/Math/MathML" xmlns:svg="http://www.w3.org/2000/svg" '
        f'xmlns:xlink="http://www.w3.org/1999/xlink"><head><title>t</title></head><body>{body}</body></html>'
    )
    root = text.normalise(lxml.etree.fromstring(document.encode(), lxml.etree.XMLParser(huge_tree=True)))
    return root.find("body")


# --- hostile payloads -------------------------------------------------------------

HOSTILE = [
    # mutation XSS through foreign content and raw-text elements
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<math><mi><style><img src=x onerror=alert(1)></style></mi></math>",
    "<svg><style>&lt;img src=x onerror=alert(1)&gt;</style></svg>",
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    "<svg><p><style><img src=x onerror=alert(1)></style></p></svg>",
    "<math><annotation-xml encoding='text/html'><img src=x onerror=alert(1)></annotation-xml></math>",
    "<svg><title><img src=x onerror=alert(1)></title></svg>",
    "<svg><desc><style><img src=x onerror=alert(1)></style></desc></svg>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<plaintext><img src=x onerror=alert(1)>",
    "<!--<img src=x onerror=alert(1)>-->",
    "<p><!-- --!><img src=x onerror=alert(1)>--></p>",
    "<template><script>alert(1)</script></template>",
    "<svg><script>alert(1)</script></svg>",
    # foreignObject and animation
    '<svg><foreignObject><iframe src="javascript:alert(1)"></iframe><p>inside</p></foreignObject></svg>',
    '<svg><a><set attributeName="href" to="javascript:alert(1)"/><text>click</text></a></svg>',
    '<svg><animate attributeName="href" values="javascript:alert(1)"/><circle r="1"/></svg>',
    '<svg><a xlink:href="javascript:alert(1)"><animateMotion dur="1s"/><text>x</text></a></svg>',
    # event attributes
    '<svg onload="alert(1)"><circle onclick="alert(1)" r="2"/></svg>',
    '<p onmouseover="alert(1)" onclick=alert(2)>words</p><img src=x onerror=alert(3)>',
    '<math onclick="alert(1)"><mi onmouseover="alert(2)">x</mi></math>',
    # javascript: and data: URLs
    '<a href="  jAvAsCrIpT:alert(1)">a</a>',
    '<a href="java&#x09;script:alert(1)">b</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">c</a>',
    '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=" alt="d"><img src="javascript:alert(1)" alt="e">',
    '<a href="vbscript:msgbox(1)">f</a><a href="//evil.example/x">g</a>',
    '<math href="javascript:alert(1)"><mi>x</mi></math>',
    '<math><maction actiontype="statusline#http://evil.example"><mi>x</mi><mi>y</mi></maction></math>',
    '<svg><use href="https://evil.example/sprite.svg#x"/><image href="https://tracker.example/p.gif"/></svg>',
    '<svg><image xlink:href="javascript:alert(1)"/><use xlink:href="data:image/svg+xml,x#y"/></svg>',
    # style that loads something
    '<p style="background:url(https://tracker.example/p.gif)">x</p>',
    '<p style="background-image: u\\72l(https://tracker.example/p.gif)">x</p>',
    '<div style="width: expression(alert(1))">x</div>',
    "<p style=\"color: red; @import 'https://evil.example/x.css'\">x</p>",
    '<svg><circle r="3" fill="url(https://evil.example/x.svg#g)" style="fill: url(#g)"/></svg>',
    "<style>@import url(https://evil.example/x.css);</style><p>after</p>",
    # elements that load or navigate
    '<iframe src="https://evil.example/"></iframe><object data="x.swf"></object><embed src="x.swf">',
    '<base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<link rel="stylesheet" href="https://evil.example/x.css"><form action="https://evil.example/"><input></form>',
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_html_is_harmless(payload):
    assert_harmless(sanitize_html(f"<p>before</p>{payload}<p>after</p>", ContentLinks(7)))


@pytest.mark.parametrize("payload", HOSTILE)
def test_nh3_alone_holds_the_line(payload):
    """Whatever the preparation step does or misses, the final step alone admits nothing dangerous."""
    assert_harmless(text._CLEANER.clean(payload))


XHTML_HOSTILE = [
    "<svg:svg><svg:script>alert(1)</svg:script><svg:circle r='1' onclick='alert(1)'/></svg:svg>",
    "<svg:svg><svg:foreignObject><p>inside</p><script>alert(1)</script></svg:foreignObject></svg:svg>",
    "<svg:svg><svg:a xlink:href='javascript:alert(1)'><svg:set attributeName='href' to='javascript:x'/>"
    "<svg:text>t</svg:text></svg:a></svg:svg>",
    "<m:math><m:annotation-xml encoding='text/html'><img src='x' onerror='alert(1)'/></m:annotation-xml></m:math>",
    "<svg:svg><svg:style>&lt;/style&gt;&lt;img src=x onerror=alert(1)&gt;</svg:style></svg:svg>",
    "<p>x<script/>y</p><style/><p>z</p>",
    "<a href='javascript:alert(1)'>a</a><img src='http://tracker.example/p.gif' alt='tracked'/>",
    "<noscript><p title='&lt;/noscript&gt;&lt;img src=x onerror=alert(1)&gt;'>n</p></noscript>",
    "<p style='background:url(http://tracker.example/p.gif)'>s</p>",
]


@pytest.mark.parametrize("payload", XHTML_HOSTILE)
def test_hostile_xhtml_is_harmless(payload):
    assert_harmless(sanitize_tree(xhtml_body(f"<p>before</p>{payload}<p>after</p>"), ContentLinks(7)))


def test_text_around_removed_elements_is_kept():
    content = sanitize_tree(xhtml_body("<p>x<script/>y</p><style>p {}</style><p>z</p>"))

    assert content == "<p>xy</p><p>z</p>"


def test_noscript_content_reads_as_text_not_markup():
    content = sanitize_tree(xhtml_body("<noscript><p>Enable nothing.</p></noscript>"))

    assert content == "<p>Enable nothing.</p>"


# --- what is kept -----------------------------------------------------------------


def test_structure_and_sectioning_are_kept_with_their_attributes():
    body = (
        '<section id="s1" epub:type="chapter" xml:lang="fr" dir="rtl" class="c" title="t" role="doc-chapter">'
        '<header><h1 id="h">Titre</h1></header><article><aside epub:type="footnote" id="n1"><p>note</p></aside>'
        '<nav><ol start="3" reversed="reversed" type="i"><li>a</li></ol></nav>'
        "<figure><figcaption>cap</figcaption></figure><footer>f</footer></article>"
        '<table><thead><tr><th scope="col" colspan="2">h</th></tr></thead>'
        '<tbody><tr><td rowspan="2">1</td></tr></tbody></table>'
        "<dl><dt>term</dt><dd>def</dd></dl><blockquote><p>q</p></blockquote><pre><code>x = 1</code></pre>"
        "<p>H<sub>2</sub>O, x<sup>2</sup>, <ruby>漢<rt>kan</rt></ruby></p></section>"
    )

    content = sanitize_tree(xhtml_body(body))

    assert content.startswith(
        '<section id="s1" data-epub-type="chapter" lang="fr" dir="rtl" class="c" title="t" role="doc-chapter">'
    )
    for kept in (
        '<header><h1 id="h">Titre</h1></header>',
        '<aside data-epub-type="footnote" id="n1">',
        '<ol start="3" reversed="reversed" type="i">',
        "<figure><figcaption>cap</figcaption></figure><footer>f</footer>",
        '<th scope="col" colspan="2">h</th>',
        '<td rowspan="2">1</td>',
        "<dl><dt>term</dt><dd>def</dd></dl>",
        "<pre><code>x = 1</code></pre>",
        "H<sub>2</sub>O, x<sup>2</sup>, <ruby>漢<rt>kan</rt></ruby>",
    ):
        assert kept in content
    assert_harmless(content)


def test_the_same_attributes_in_html_sent_as_json():
    content = sanitize_html('<section epub:type="chapter" xml:lang="fr" dir="rtl"><p>x</p></section>')

    assert content == '<section data-epub-type="chapter" lang="fr" dir="rtl"><p>x</p></section>'


def test_presentation_mathml_is_kept_with_its_text():
    body = (
        '<p>The relation <m:math display="inline"><m:semantics><m:mrow><m:mi>E</m:mi><m:mo>=</m:mo>'
        "<m:mi>m</m:mi><m:msup><m:mi>c</m:mi><m:mn>2</m:mn></m:msup></m:mrow>"
        '<m:annotation encoding="application/x-tex">E=mc^2</m:annotation></m:semantics></m:math> here.</p>'
        '<m:math display="block"><m:mfrac><m:mn>1</m:mn><m:msqrt><m:mn>2</m:mn></m:msqrt></m:mfrac></m:math>'
    )

    content = sanitize_tree(xhtml_body(body))

    tree = browser_tree(content)
    assert [local(e.tag) for e in tree.iter(f"{MATHML}*")][:4] == ["math", "semantics", "mrow", "mi"]
    assert "The relation" in content and "here." in content
    assert '<math display="block"><mfrac><mn>1</mn><msqrt><mn>2</mn></msqrt></mfrac></math>' in content
    assert count_words(content) >= 8  # the maths' own words count too
    assert_harmless(content)


def test_inline_svg_is_kept_with_shapes_text_gradients_and_local_references():
    body = (
        '<svg:svg width="100" height="50" viewBox="0 0 100 50"><svg:defs><svg:linearGradient id="g">'
        '<svg:stop offset="0" stop-color="red"/></svg:linearGradient><svg:path id="p" d="M0 0L10 10"/></svg:defs>'
        '<svg:circle cx="25" cy="25" r="20" fill="url(#g)"/><svg:use xlink:href="#p"/>'
        '<svg:text x="50" y="30" xml:lang="en">Drawn <svg:tspan>words</svg:tspan></svg:text></svg:svg>'
    )

    content = sanitize_tree(xhtml_body(body))

    tree = browser_tree(content)
    names = [e.tag.rsplit("}", 1)[-1] for e in tree.iter(f"{SVG}*")]
    assert names == ["svg", "defs", "linearGradient", "stop", "path", "circle", "use", "text", "tspan"]
    assert 'viewBox="0 0 100 50"' in content
    assert 'fill="url(#g)"' in content
    assert '<use href="#p"></use>' in content
    assert "Drawn <tspan>words</tspan>" in content
    assert_harmless(content)


def test_ids_of_stripped_elements_are_kept():
    content = sanitize_tree(xhtml_body('<p><a name="old-anchor"/>Text <font id="f1">in font</font></p>'))

    ids = {e.get("id") for e in browser_tree(content).iter() if isinstance(e.tag, str) and e.get("id")}
    assert ids == {"old-anchor", "f1"}
    assert "in font" in content


def test_remote_pictures_are_removed_and_their_alt_text_kept():
    content = sanitize_html('<p>See <img src="https://tracker.example/p.gif" alt="the map"> here.</p>')

    assert content == "<p>See the map here.</p>"


def test_links_outside_the_book():
    content = sanitize_html(
        '<p><a href="https://example.com/a?b=1&amp;c=2">web</a> <a href="mailto:me@example.com">mail</a> '
        '<a href="ftp://example.com/f">ftp</a> <a href="other.xhtml">file</a> <a href="#n1">note</a></p>'
    )

    assert '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">web</a>' in content
    assert '<a href="mailto:me@example.com" rel="noopener noreferrer nofollow">mail</a>' in content
    assert '<a rel="noopener noreferrer nofollow">ftp</a>' in content  # unlinked, text kept
    assert '<a rel="noopener noreferrer nofollow">file</a>' in content
    assert '<a href="#n1" rel="noopener noreferrer nofollow">note</a>' in content


def test_this_books_own_urls_survive_an_edit_and_others_do_not():
    links = ContentLinks(7, chapters={1, 2}, pictures={"OEBPS/img/a b.png"})
    served = (
        '<p><a href="/api/v1/books/7/chapters/2/#x" data-chapter="2">next</a> '
        '<a href="/api/v1/books/7/chapters/9/">gone</a> <a href="/api/v1/books/8/chapters/1/">other book</a> '
        '<img src="/api/v1/books/7/resources/OEBPS/img/a%20b.png?s=abc:def" alt="pic"> '
        '<img src="/api/v1/books/8/resources/OEBPS/img/a%20b.png" alt="theirs"></p>'
    )

    content = sanitize_html(served, links)

    assert '<a href="/api/v1/books/7/chapters/2/#x" data-chapter="2"' in content
    assert '<a rel="noopener noreferrer nofollow">gone</a>' in content
    assert '<a rel="noopener noreferrer nofollow">other book</a>' in content
    assert '<img src="/api/v1/books/7/resources/OEBPS/img/a%20b.png" alt="pic">' in content  # stored unsigned
    assert "theirs" in content and "/books/8/resources" not in content


def test_safe_inline_style_is_kept():
    content = sanitize_html('<p style="text-align: center; font-style: italic; position: fixed">x</p>')

    assert content == '<p style="text-align:center;font-style:italic">x</p>'


def test_a_text_block_over_ten_megabytes_is_kept():
    """libxml2 refuses text nodes over 10 MB unless told otherwise (huge_tree)."""
    block = "word " * (2_300_000)  # 11.5 MB in one text node

    content = sanitize_html(f"<p>{block}</p>")
    assert count_words(content) == 2_300_000

    content = sanitize_tree(xhtml_body(f"<p>{block}</p>"))
    assert count_words(content) == 2_300_000


def test_large_chapters_are_sanitised_in_pieces_to_the_same_result():
    sections = "".join(
        f'<section id="s{n}"><h2>Part {n}</h2>' + "<p>some words here</p>" * 4000 + "</section>" for n in range(3)
    )

    whole = text._CLEANER.clean(sections)
    pieces = sanitize_tree(xhtml_body(f'<div id="outer">{sections}</div>'))

    assert pieces == f'<div id="outer">{whole}</div>'


def test_word_count_reads_entities_as_separators_and_skips_tags():
    assert count_words('<p title="many words in a title">one&nbsp;two &amp; three</p><p>four</p>') == 4


# --- SVG files --------------------------------------------------------------------


def test_svg_files_keep_their_drawing_and_lose_everything_active():
    data = (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        b'width="20" height="20" onload="alert(1)"><script>alert(2)</script>'
        b'<rect width="10" height="10" fill="blue" onclick="alert(3)"/><text x="1" y="15">Svg words</text>'
        b'<a xlink:href="javascript:alert(4)"><text>link</text></a><use xlink:href="#r"/>'
        b'<image xlink:href="https://tracker.example/p.gif"/><foreignObject><p>html</p></foreignObject>'
        b'<animate attributeName="x"/><style>@import url(x)</style><circle r="1" style="fill:url(http://x)"/></svg>'
    )

    cleaned = sanitize_svg(data)

    root = lxml.etree.fromstring(cleaned)
    names = [local(e.tag) for e in root.iter() if isinstance(e.tag, str)]
    assert names == ["svg", "rect", "text", "a", "text", "use", "image", "circle"]
    assert b"Svg words" in cleaned
    for gone in (b"alert", b"script", b"onload", b"onclick", b"tracker", b"foreignObject", b"url(", b"@import"):
        assert gone not in cleaned
    assert b'xlink:href="#r"' in cleaned


@pytest.mark.parametrize("data", [b"<html><body>not svg</body></html>", b"\x89PNG\r\n\x1a\n", b"", b"<svg xmlns='x'>"])
def test_what_is_not_an_svg_document_is_refused(data):
    assert sanitize_svg(data) is None
