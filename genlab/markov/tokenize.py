"""Careful word tokenizer and detokenizer for prose with dialogue.

CONTRACT (implemented by the tokenizer work; the Markov model depends on exactly this):

PARAGRAPH = "<p>"   token between paragraphs (never at start or end of tokenize() output)

Quote tokens (opening and closing are always distinct tokens):
    curly / French: the characters themselves:  “ ”  ‘ ’  « »  ‹ ›
    straight double quote: opening '<"'  closing '">'
    straight single quote: opening "<'"  closing "'>"
  surface(token) returns the printed form ('<"' -> '"').
  quote_role(token) -> (kind, +1 | -1) or None, kind one of "double", "single", "guillemet",
  "single_guillemet", "straight_double", "straight_single"; +1 opens, -1 closes.

normalize(text) -> str            strip BOM, CRLF/CR -> LF
split_paragraphs(text) -> list[str]   normalized; paragraphs are separated by blank lines;
                                      whitespace inside a paragraph collapsed to single spaces
tokenize_paragraph(p) -> list[str]    one paragraph, no PARAGRAPH tokens
tokenize(text) -> list[str]           paragraphs joined by PARAGRAPH
detokenize(tokens) -> str             paragraphs joined by "\n\n"
class Detokenizer:                    incremental (streaming) detokenizer
    piece(token) -> str               text to append for this token, leading space included;
                                      "".join(d.piece(t) for t in toks) == detokenize(toks)
"""
