/* Compiled fast path of genlab's word tokenizer, for training on big corpora.
 *
 * Why: the Python tokenizer runs at about 9 MB/s, and its regexes alone cost more than the
 * whole training run may take on 50 MB. Most paragraphs of a novel are plain: words, common
 * punctuation and symbols, curly and straight quotes, italic underscores, dashes, ellipses,
 * apostrophes, and the book's usual spacing. For those this file finds the same tokens as
 * tokenize.py (quote decisions included), and maps them to ids without making a Python string
 * per token. Any paragraph outside that subset (rarer symbols, a ‘ inside a word, spacing
 * that needs marks other than a dash's or a glued mark's, no-break spaces, marks, accents
 * after an elided ') goes to the Python tokenizer, which stays the definition: tests compare the
 * two on every paragraph of the test novels and on generated text. 98.7-99.8% of the test
 * novels' paragraphs take the fast path.
 *
 * Interface:
 *   tokenize(paragraph) -> list[str] | None   tokens of one collapsed paragraph, None when
 *                                             the paragraph is not in the fast subset
 *   Encoder(index, fallback).encode(text) -> bytes   uint32 ids of every paragraph of a
 *       normalized text, the paragraph id 0 after each; new tokens are added to `index`
 *       (a dict token -> id); fallback(collapsed_paragraph) -> list[str] tokenizes the rest.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ---- characters ------------------------------------------------------------------------ */

#define LDQUO 0x201C /* “ */
#define RDQUO 0x201D /* ” */
#define RSQUO 0x2019 /* ’ */
#define LSQUO 0x2018 /* ‘ */
#define ELLIPSIS 0x2026
#define EM_DASH 0x2014
#define EN_DASH 0x2013
#define MARK_SPACE 0x2423 /* ␣ */

static inline int is_alnum(Py_UCS4 c) {
    if (c < 128)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return Py_UNICODE_ISALNUM(c);
}
static inline int is_decimal(Py_UCS4 c) { return c < 128 ? c >= '0' && c <= '9' : Py_UNICODE_ISDECIMAL(c); }
static inline int is_space(Py_UCS4 c) { return Py_UNICODE_ISSPACE(c); }

/* [A-ZÀ-ÖØ-Þ]: the capitals an initial may be */
static int is_upper_initial(Py_UCS4 c) {
    return (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xDE);
}

/* tokenize.py's _DASHES */
static inline int is_dash_char(Py_UCS4 c) {
    switch (c) {
    case 0x2014: case 0x2013: case 0x2015: case 0x2012: case 0x2E3A: case 0x2E3B:
    case 0x2010: case 0x2011: case 0x2212: case '-':
        return 1;
    }
    return 0;
}

static int is_hyphen(Py_UCS4 c) { return c == '-' || c == 0x2010 || c == 0x2011; }

/* the characters the quote classifier decides: " ' ’ ‘ _ */
static inline int is_quote_char(Py_UCS4 c) {
    return c == '"' || c == '\'' || c == RSQUO || c == LSQUO || c == '_';
}

enum { T_WORD, T_GLUE_LEFT, T_GLUE_RIGHT, T_GLUE_BOTH, T_DASH, T_SYMBOLS, T_OTHER };

/* How the token regex treats a character (outside words and quotes). Characters of
 * T_OTHER send the paragraph to Python. */
static inline int char_type(Py_UCS4 c) {
    if (is_dash_char(c))
        return T_DASH;
    switch (c) {
    /* _GLUE_LEFT (no space before) */
    case ',': case '.': case ';': case ':': case '!': case '?': case ELLIPSIS: case ')':
    case ']': case '}': case RDQUO: case 0xBB: case 0x203A: case '%': case 0x2030:
    case 0x2122: case 0xAE:
        return T_GLUE_LEFT;
    /* _GLUE_RIGHT (no space after), less ‘ which the quote classifier decides */
    case '(': case '[': case '{': case LDQUO: case 0xAB: case 0x2039: case 0xBF: case 0xA1:
    case '$': case 0xA3: case 0x20AC: case 0xA5: case '#':
        return T_GLUE_RIGHT;
    case '/': case '@':
        return T_GLUE_BOTH;
    /* a few of the other symbols, whose runs are tokens spaced like words */
    case '&': case '*': case '+': case '=': case 0x2022: case 0xB0: case 0xA7: case 0xB6:
    case 0x2020: case 0x2021: case '~': case '^': case '|':
        return T_SYMBOLS;
    }
    return T_OTHER;
}

/* the quote classifier's _OPENING_CONTEXT and _CLOSING_CONTEXT */
static int opens_context(Py_UCS4 c) {
    switch (c) {
    case LDQUO: case LSQUO: case 0xAB: case 0x2039: case '(': case '[': case '{': case '/':
        return 1;
    }
    return is_dash_char(c);
}

static int closes_context(Py_UCS4 c) {
    switch (c) {
    case RDQUO: case RSQUO: case 0xBB: case 0x203A: case ')': case ']': case '}':
    case '.': case ',': case ';': case ':': case '!': case '?': case ELLIPSIS:
        return 1;
    }
    return is_dash_char(c);
}

/* Per character, what the quote pass made of it: a quote it decided, or nothing (a word
 * character, or an apostrophe, which stays itself). */
enum { Q_NONE, Q_DOUBLE_OPEN, Q_DOUBLE_CLOSE, Q_ITALIC_OPEN, Q_ITALIC_CLOSE, Q_SINGLE_OPEN, Q_SINGLE_CLOSE,
       Q_STRAIGHT_OPEN, Q_STRAIGHT_CLOSE };

/* \w of the text after the quote pass: letters, digits, and an "_" left inside a word */
static inline int is_w(const Py_UCS4 *s, const signed char *q, Py_ssize_t i) {
    return is_alnum(s[i]) || (s[i] == '_' && q[i] == Q_NONE);
}

/* ---- abbreviations (tokenize.py's _abbreviation_dot) ------------------------------------ */

static PyObject *abbreviations;   /* frozenset of words whose period they keep */
static PyObject *number_words;    /* frozenset: No no Nos nos p pp, before a number */

static int run_in(PyObject *set, const Py_UCS4 *s, Py_ssize_t start, Py_ssize_t end) {
    if (end - start > 8 || set == NULL)
        return 0;
    PyObject *w = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, s + start, end - start);
    if (w == NULL)
        return -1;
    int found = PySet_Contains(set, w);
    Py_DECREF(w);
    return found;
}

/* Does the period at i (just after a word) belong to the word? -1 on error. */
static int abbreviation_dot(const Py_UCS4 *s, const signed char *q, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t k = i;
    while (k > 0 && is_w(s, q, k - 1))
        k--; /* s[k:i] is the \w run the period follows, with \b before it */
    int found = run_in(abbreviations, s, k, i);
    if (found)
        return found;
    Py_UCS4 prev = s[i - 1];
    /* e.g. i.e. U.S.A. */
    if (i >= 2 && s[i - 2] == '.' && is_alnum(prev) && !is_decimal(prev))
        return 1;
    /* the next character, past one optional space */
    Py_UCS4 next = i + 1 < n ? s[i + 1] : 0;
    if (next == ' ' && i + 2 < n)
        next = s[i + 2];
    /* J. R. Tolkien */
    if (is_upper_initial(prev) && i - k == 1 && prev != 'I' && is_upper_initial(next))
        return 1;
    /* the last of a row of initials: O. G. */
    if (i >= 4 && is_upper_initial(prev) && s[i - 2] == ' ' && s[i - 3] == '.'
        && is_upper_initial(s[i - 4]) && (i == 4 || !is_w(s, q, i - 5)))
        return 1;
    /* M. le curé, MM. */
    if (((i - k == 1 && prev == 'M') || (i - k == 2 && prev == 'M' && s[i - 2] == 'M'))
        && is_alnum(next) && !is_decimal(next))
        return 1;
    /* No. 5, p. 12 */
    if (is_decimal(next))
        return run_in(number_words, s, k, i);
    return 0;
}

/* ---- one paragraph ------------------------------------------------------------------------ */

typedef struct {
    Py_ssize_t start, end;     /* the token's characters in the paragraph */
    int type;
    int quote;                 /* Q_*: the token is a quote the quote pass decided */
    int left_mark, right_mark; /* a dash's own spacing */
} Token;

typedef struct {
    Token *items;
    Py_ssize_t len, cap;
    signed char *quote; /* per character, Q_* */
    Py_ssize_t quote_cap;
} Tokens;

/* Room for `need` items of `size` bytes in a growable buffer (doubling from `first`). */
static int reserve(void **buf, Py_ssize_t *cap, Py_ssize_t need, size_t size, Py_ssize_t first) {
    if (need <= *cap)
        return 0;
    Py_ssize_t grown = *cap ? *cap : first;
    while (grown < need)
        grown *= 2;
    void *p = PyMem_Realloc(*buf, grown * size);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *buf = p;
    *cap = grown;
    return 0;
}

static int tokens_reserve(Tokens *t, Py_ssize_t n) {
    return reserve((void **)&t->items, &t->cap, n, sizeof(Token), 256);
}

static int quotes_reserve(Tokens *t, Py_ssize_t n) {
    return reserve((void **)&t->quote, &t->quote_cap, n, 1, 256);
}

static void tokens_free(Tokens *t) {
    PyMem_Free(t->items);
    PyMem_Free(t->quote);
    t->items = NULL;
    t->quote = NULL;
    t->len = t->cap = t->quote_cap = 0;
}

/* The default spacing the detokenizer assumes: does the token want a space on its left,
 * on its right? (Dashes always carry their own.) */
static int wants_left(const Token *t) {
    return t->type == T_WORD || t->type == T_SYMBOLS || t->type == T_GLUE_RIGHT;
}
static int wants_right(const Token *t) {
    return t->type == T_WORD || t->type == T_SYMBOLS || t->type == T_GLUE_LEFT;
}

/* tokenize.py's _SURE_CLOSER_AFTER / _SURE_CLOSER_BEFORE */
static int sure_closer_context(Py_UCS4 c, int before) {
    switch (c) {
    case ',': case '.': case ';': case ':': case '!': case '?': case ELLIPSIS: case ')':
    case ']': case RDQUO: case 0xBB:
        return 1;
    case '"':
        return before;
    }
    return is_dash_char(c);
}

/* Is a quote between a word and a space an apostrophe rather than the closer of one of the
 * `depth` open quotations? It is when enough surer closers follow before the next opener to
 * close them all (_QuoteClassifier._apostrophe_after_word). `straight`: the quote is a ', and
 * the events are straight quotes; else it is a ’, and the events ‘ and ’. -1: too long a
 * search, left to Python. */
static int apostrophe_after_word(const Py_UCS4 *s, Py_ssize_t n, int depth, Py_UCS4 after,
                                 Py_ssize_t end, int straight, Py_ssize_t *budget) {
    if (!depth)
        return 1;
    if (!is_space(after))
        return 0;
    int closers = 0;
    for (Py_ssize_t j = end; j < n; j++) {
        if (--*budget < 0)
            return -1;
        Py_UCS4 c = s[j], prev = s[j - 1];
        if (straight ? c != '\'' : c != LSQUO && c != RSQUO)
            continue;
        if (straight ? is_space(prev) || opens_context(prev) : c == LSQUO)
            break; /* the next opener */
        if (sure_closer_context(prev, 0) || j + 1 == n || sure_closer_context(s[j + 1], 1))
            closers++;
    }
    return closers >= depth;
}

static int is_letter(Py_UCS4 c) { return is_alnum(c) && !is_decimal(c); }

/* Do the characters before `start` end in a hyphen and one or two letters (the "-o" of
 * will-o’-the-wisp)? */
static int short_segment_before(const Py_UCS4 *s, Py_ssize_t start) {
    return (start >= 2 && is_hyphen(s[start - 2]) && is_letter(s[start - 1]))
           || (start >= 3 && is_hyphen(s[start - 3]) && is_letter(s[start - 2]) && is_letter(s[start - 1]));
}

/* tokenize.py's _ELISION at i: 'tis, 'em, 'n', '90s ... -1: not sure (a non-ASCII letter
 * follows, which a case-insensitive match might fold), left to Python. */
static int elision_at(const Py_UCS4 *s, Py_ssize_t n, Py_ssize_t i) {
    static const char *words[] = {"tis", "twas", "twere", "twill", "twould", "twixt", "tween",
                                  "em", "n", "cause", "cos", "til", "bout", "neath", "gainst",
                                  "mongst", "nuff", "scuse", "spose", NULL};
    for (Py_ssize_t k = i; k < n && k < i + 8 && is_alnum(s[k]); k++)
        if (s[k] >= 128)
            return -1;
    for (const char **w = words; *w; w++) {
        Py_ssize_t len = (Py_ssize_t)strlen(*w), k = 0;
        while (k < len && i + k < n && (s[i + k] | 0x20) == (Py_UCS4)(*w)[k]
               && ((s[i + k] >= 'a' && s[i + k] <= 'z') || (s[i + k] >= 'A' && s[i + k] <= 'Z')))
            k++;
        if (k == len && (i + len == n || !is_alnum(s[i + len])))
            return 1;
    }
    if (i + 1 < n && is_decimal(s[i]) && is_decimal(s[i + 1])) {
        Py_ssize_t k = i + 2;
        if (k + 1 < n && s[k] == 't' && s[k + 1] == 'h' && (k + 2 == n || !is_alnum(s[k + 2])))
            return 1;
        if (k < n && s[k] == 's' && (k + 1 == n || !is_alnum(s[k + 1])))
            return 1;
        return k == n || !is_alnum(s[k]);
    }
    return 0;
}

/* The quote pass (tokenize.py's _QuoteClassifier) for the paragraphs of the fast subset:
 * straight double quotes, italic underscores and curly single quotes opened or closed by
 * their surroundings and the paragraph's state, apostrophes left as they are. 0: a quote
 * this file leaves to Python (a straight single quote that may open or close, a ‘ inside a
 * word, a run of quotes holding a straight single one). */
static int classify_quotes(const Py_UCS4 *s, Py_ssize_t n, signed char *q) {
    int double_open = 0, italic_open = 0, single_open = 0, curly = 0;
    Py_ssize_t budget = 64 * n + 4096; /* bounds the apostrophe searches */
    for (Py_ssize_t i = 0; i < n; i++)
        q[i] = Q_NONE;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!is_quote_char(s[i]))
            continue;
        Py_ssize_t end = i;
        while (end < n && is_quote_char(s[end]))
            end++;
        Py_UCS4 c = s[i], before = i ? s[i - 1] : ' ', after = end < n ? s[end] : ' ';
        int word_before = is_alnum(before), word_after = is_alnum(after);
        if (end - i == 1 && word_before && word_after) {
            if (c == LSQUO)
                return 0; /* tokenize.py's spacing pass splits a word at a ‘ */
            i = end - 1;
            continue; /* don’t, o'er, snake_case */
        }
        if (c == RSQUO && end - i == 1 && word_before && is_hyphen(after) && end + 1 < n
            && is_alnum(s[end + 1]) && short_segment_before(s, i))
            continue; /* will-o’-the-wisp */
        int opening = is_space(before) || opens_context(before);
        int closing = is_space(after) || closes_context(after);
        int direction = opening && !closing ? 1 : closing && !opening ? -1 : 0;
        for (Py_ssize_t k = i; k < end; k++) {
            int leading = k == end - 1 && word_after && direction >= 0;
            int trailing = k == i && word_before && direction <= 0;
            switch (s[k]) {
            case '"':
                double_open = direction > 0 || (direction == 0 && !double_open);
                q[k] = double_open ? Q_DOUBLE_OPEN : Q_DOUBLE_CLOSE;
                break;
            case '_':
                italic_open = direction > 0 || (direction == 0 && !italic_open);
                q[k] = italic_open ? Q_ITALIC_OPEN : Q_ITALIC_CLOSE;
                break;
            case LSQUO:
                curly++;
                q[k] = Q_SINGLE_OPEN;
                break;
            case '\'': {
                int apostrophe = 0;
                if (leading) {
                    apostrophe = elision_at(s, n, end);
                    if (!apostrophe && !is_space(before) && end < n && s[end] == 's'
                        && (end + 1 == n || !is_alnum(s[end + 1])))
                        apostrophe = 1; /* O. G.'s */
                }
                if (!apostrophe && trailing)
                    apostrophe = apostrophe_after_word(s, n, single_open, after, end, 1, &budget);
                if (apostrophe < 0)
                    return 0;
                if (!apostrophe) {
                    single_open = direction > 0 || (direction == 0 && !single_open);
                    q[k] = single_open ? Q_STRAIGHT_OPEN : Q_STRAIGHT_CLOSE;
                }
                break;
            }
            default: { /* ’ */
                int apostrophe = leading;
                if (!apostrophe && trailing) {
                    apostrophe = apostrophe_after_word(s, n, curly, after, end, 0, &budget);
                    if (apostrophe < 0)
                        return 0;
                }
                if (!apostrophe) {
                    curly = curly > 0 ? curly - 1 : 0;
                    q[k] = Q_SINGLE_CLOSE;
                }
            }
            }
        }
        i = end - 1;
    }
    return 1;
}

/* Does the token regex's word joiner start at j (and how long is it)? . ' ’ ‘ - ‐ ‑ before
 * a word character, , and : between digits, and the ’- of will-o’-the-wisp. */
static Py_ssize_t joiner_at(const Py_UCS4 *s, const signed char *q, Py_ssize_t n, Py_ssize_t j) {
    Py_UCS4 c = s[j];
    if ((c == '\'' || c == RSQUO) && j + 2 < n && is_hyphen(s[j + 1]) && is_w(s, q, j + 2)
        && ((j >= 2 && is_hyphen(s[j - 2]) && is_w(s, q, j - 1))
            || (j >= 3 && is_hyphen(s[j - 3]) && is_w(s, q, j - 2) && is_w(s, q, j - 1))))
        return 2;
    if (j + 1 >= n || !is_w(s, q, j + 1))
        return 0;
    switch (c) {
    case '.': case '\'': case RSQUO: case LSQUO: case '-': case 0x2010: case 0x2011:
        return 1;
    case ',': case ':':
        return j > 0 && is_decimal(s[j - 1]) && is_decimal(s[j + 1]);
    }
    return 0;
}

/* Tokens of a collapsed paragraph: 1 done, 0 not in the fast subset, -1 error. */
static int tokenize_fast(const Py_UCS4 *s, Py_ssize_t n, Tokens *out) {
    out->len = 0;
    if (n == 0)
        return 0;
    if (quotes_reserve(out, n) < 0)
        return -1;
    signed char *q = out->quote;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = s[i];
        if (c != ' ' && !is_alnum(c) && !is_quote_char(c) && char_type(c) == T_OTHER)
            return 0;
    }
    if (!classify_quotes(s, n, q))
        return 0;
    /* The token regex's choices for these characters. */
    Py_ssize_t i = 0;
    int space_before = 0;
    while (i < n) {
        Py_UCS4 c = s[i];
        if (c == ' ') {
            space_before = 1;
            i++;
            continue;
        }
        if (tokens_reserve(out, out->len + 1) < 0)
            return -1;
        Token *t = &out->items[out->len];
        Token *prev = out->len ? &out->items[out->len - 1] : NULL;
        t->start = i;
        t->quote = q[i];
        t->left_mark = t->right_mark = 0;
        Py_ssize_t j = i + 1;
        if (q[i] == Q_DOUBLE_OPEN || q[i] == Q_ITALIC_OPEN || q[i] == Q_SINGLE_OPEN
            || q[i] == Q_STRAIGHT_OPEN) {
            t->type = T_GLUE_RIGHT;
        } else if (q[i] != Q_NONE) {
            t->type = T_GLUE_LEFT;
        } else if (is_w(s, q, i) || ((c == '\'' || c == RSQUO) && j < n && is_w(s, q, j))) {
            t->type = T_WORD;
            while (j < n && is_w(s, q, j))
                j++;
            for (Py_ssize_t step; j < n && (step = joiner_at(s, q, n, j)) > 0;) {
                j += step;
                while (j < n && is_w(s, q, j))
                    j++;
            }
            if (j < n && (s[j] == '\'' || s[j] == RSQUO) && q[j] == Q_NONE) {
                j++;
            } else if (j < n && s[j] == '.') {
                int dot = abbreviation_dot(s, q, n, j);
                if (dot < 0)
                    return -1;
                j += dot;
            }
        } else if ((c == '.' && j < n && s[j] == '.') || c == ELLIPSIS) {
            t->type = T_GLUE_LEFT; /* an ellipsis: no space before, one after */
            while (j < n && s[j] == c)
                j++;
        } else if (is_dash_char(c)) {
            t->type = T_DASH;
            while (j < n && s[j] == c)
                j++;
            /* a space before is the dash's own (a dash before took its own already) */
            if (space_before && prev && (prev->type == T_GLUE_RIGHT || prev->type == T_GLUE_BOTH))
                return 0; /* an opener's space: marked spacing, left to Python */
            t->left_mark = space_before;
            t->right_mark = j < n && s[j] == ' ';
        } else {
            t->type = char_type(c);
            if (t->type == T_SYMBOLS)
                while (j < n && char_type(s[j]) == T_SYMBOLS)
                    j++;
            else if (t->type == T_OTHER)
                return 0; /* a quote this file does not decide */
        }
        t->end = j;
        j += t->right_mark; /* the space a dash claims is in its mark */
        /* a space before a token that glues to the left is the token's own ("␣...") */
        if (space_before && (t->type == T_GLUE_LEFT || t->type == T_GLUE_BOTH) && prev
            && prev->type != T_GLUE_RIGHT && prev->type != T_GLUE_BOTH)
            t->left_mark = 1; /* (after an opener, the space would be the opener's) */
        /* Other spacing must be the default one (else tokenize.py writes marks). */
        if (prev ? prev->type != T_DASH && t->type != T_DASH && !t->left_mark
                       && (wants_right(prev) && wants_left(t)) != space_before
                 : space_before)
            return 0;
        out->len++;
        space_before = 0;
        i = j;
    }
    if (out->len == 0)
        return 0; /* nothing but spaces: tokenize.py decides, as for an empty text */
    /* A dash opening or closing a paragraph has the same spacing on both sides. */
    Token *first = &out->items[0], *last = &out->items[out->len - 1];
    if (first->type == T_DASH && first->right_mark)
        first->left_mark = 1;
    if (last->type == T_DASH && last->left_mark)
        last->right_mark = 1;
    return 1;
}

/* The token's text, as tokenize.py names it, into buf (at most length + 2 chars). */
static Py_ssize_t token_text(const Py_UCS4 *s, const Token *t, Py_UCS4 *buf) {
    static const char *names[] = {"", "<\"", "\">", "<_", "_>", "", "", "<'", "'>"};
    Py_ssize_t k = 0;
    if (t->left_mark)
        buf[k++] = MARK_SPACE;
    if (t->quote == Q_SINGLE_OPEN || t->quote == Q_SINGLE_CLOSE) {
        buf[k++] = s[t->start]; /* ‘ and ’ are their own names */
        return k;
    }
    if (t->quote) {
        buf[k++] = names[t->quote][0];
        buf[k++] = names[t->quote][1];
        return k;
    }
    for (Py_ssize_t i = t->start; i < t->end; i++)
        buf[k++] = s[i];
    if (t->right_mark)
        buf[k++] = MARK_SPACE;
    return k;
}

static PyObject *tokens_to_list(const Py_UCS4 *s, const Tokens *toks) {
    PyObject *list = PyList_New(toks->len);
    if (list == NULL)
        return NULL;
    Py_UCS4 small[64];
    for (Py_ssize_t k = 0; k < toks->len; k++) {
        const Token *t = &toks->items[k];
        Py_ssize_t need = t->end - t->start + 3;
        Py_UCS4 *buf = need <= 64 ? small : PyMem_Malloc(need * sizeof(Py_UCS4));
        if (buf == NULL) {
            Py_DECREF(list);
            return PyErr_NoMemory();
        }
        Py_ssize_t len = token_text(s, t, buf);
        PyObject *str = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, len);
        if (buf != small)
            PyMem_Free(buf);
        if (str == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, k, str);
    }
    return list;
}

static Py_UCS4 *as_ucs4(PyObject *str, Py_ssize_t *n) {
    *n = PyUnicode_GET_LENGTH(str);
    return PyUnicode_AsUCS4Copy(str);
}

static PyObject *py_tokenize(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "tokenize() takes a str");
        return NULL;
    }
    Py_ssize_t n;
    Py_UCS4 *s = as_ucs4(arg, &n);
    if (s == NULL)
        return NULL;
    Tokens toks = {0};
    PyObject *result;
    int ok = tokenize_fast(s, n, &toks);
    if (ok < 0)
        result = NULL;
    else if (ok == 0)
        result = Py_NewRef(Py_None);
    else
        result = tokens_to_list(s, &toks);
    tokens_free(&toks);
    PyMem_Free(s);
    return result;
}

/* ---- token -> id table ---------------------------------------------------------------- */

typedef struct {
    uint64_t hash;
    Py_ssize_t offset; /* into the key arena; -1 for an empty slot */
    Py_ssize_t len;
    uint32_t id;
} Slot;

typedef struct {
    PyObject_HEAD
    PyObject *index;    /* dict token -> id, shared with the caller */
    PyObject *fallback; /* callable: collapsed paragraph -> list of tokens */
    Slot *slots;
    Py_ssize_t mask, used;
    Py_UCS4 *arena;
    Py_ssize_t arena_len, arena_cap;
    uint32_t *ids;
    Py_ssize_t ids_len, ids_cap;
    Tokens toks;
    Py_UCS4 *para;
    Py_ssize_t para_cap;
} Encoder;

static uint64_t hash_chars(const Py_UCS4 *s, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static int table_grow(Encoder *e) {
    Py_ssize_t size = e->slots ? (e->mask + 1) * 2 : 1 << 16;
    Slot *slots = PyMem_Malloc(size * sizeof(Slot));
    if (slots == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < size; i++)
        slots[i].offset = -1;
    if (e->slots) {
        for (Py_ssize_t i = 0; i <= e->mask; i++) {
            if (e->slots[i].offset < 0)
                continue;
            Py_ssize_t at = e->slots[i].hash & (size - 1);
            while (slots[at].offset >= 0)
                at = (at + 1) & (size - 1);
            slots[at] = e->slots[i];
        }
        PyMem_Free(e->slots);
    }
    e->slots = slots;
    e->mask = size - 1;
    return 0;
}

/* The id of a token given as characters; `str` is the token as a Python string if the
 * caller has one (else it is made on a miss). -1 on error. */
static int64_t token_id(Encoder *e, const Py_UCS4 *chars, Py_ssize_t len, PyObject *str) {
    uint64_t h = hash_chars(chars, len);
    Py_ssize_t at = h & e->mask;
    for (;;) {
        Slot *slot = &e->slots[at];
        if (slot->offset < 0)
            break;
        if (slot->hash == h && slot->len == len
            && memcmp(e->arena + slot->offset, chars, len * sizeof(Py_UCS4)) == 0)
            return slot->id;
        at = (at + 1) & e->mask;
    }
    /* a miss: the shared dict decides the id */
    PyObject *key = str ? Py_NewRef(str) : PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, chars, len);
    if (key == NULL)
        return -1;
    int64_t id;
    PyObject *found = PyDict_GetItemWithError(e->index, key);
    if (found != NULL) {
        id = PyLong_AsLongLong(found);
    } else if (PyErr_Occurred()) {
        id = -1;
    } else {
        id = PyDict_GET_SIZE(e->index);
        PyObject *value = PyLong_FromLongLong(id);
        if (value == NULL || PyDict_SetItem(e->index, key, value) < 0)
            id = -1;
        Py_XDECREF(value);
    }
    Py_DECREF(key);
    if (id < 0 || id > UINT32_MAX) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "token ids must be in 0..2**32-1");
        return -1;
    }
    if (reserve((void **)&e->arena, &e->arena_cap, e->arena_len + len, sizeof(Py_UCS4), 1 << 16) < 0)
        return -1;
    memcpy(e->arena + e->arena_len, chars, len * sizeof(Py_UCS4));
    e->slots[at] = (Slot){h, e->arena_len, len, (uint32_t)id};
    e->arena_len += len;
    if (++e->used * 2 > e->mask + 1 && table_grow(e) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return id;
}

static int push_id(Encoder *e, uint32_t id) {
    if (reserve((void **)&e->ids, &e->ids_cap, e->ids_len + 1, sizeof(uint32_t), 1 << 16) < 0)
        return -1;
    e->ids[e->ids_len++] = id;
    return 0;
}

static int encode_with_fallback(Encoder *e, const Py_UCS4 *s, Py_ssize_t n) {
    PyObject *p = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, s, n);
    if (p == NULL)
        return -1;
    PyObject *tokens = PyObject_CallOneArg(e->fallback, p);
    Py_DECREF(p);
    if (tokens == NULL)
        return -1;
    PyObject *seq = PySequence_Fast(tokens, "the fallback tokenizer must return a list of str");
    Py_DECREF(tokens);
    if (seq == NULL)
        return -1;
    int rc = 0;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t k = 0; k < count && rc == 0; k++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, k);
        if (!PyUnicode_Check(t)) {
            PyErr_SetString(PyExc_TypeError, "the fallback tokenizer must return a list of str");
            rc = -1;
            break;
        }
        Py_ssize_t len;
        Py_UCS4 *chars = as_ucs4(t, &len);
        if (chars == NULL) {
            rc = -1;
            break;
        }
        int64_t id = token_id(e, chars, len, t);
        PyMem_Free(chars);
        rc = id < 0 ? -1 : push_id(e, (uint32_t)id);
    }
    Py_DECREF(seq);
    return rc;
}

/* One collapsed paragraph: its ids, then the paragraph mark's. */
static int encode_paragraph(Encoder *e, const Py_UCS4 *s, Py_ssize_t n) {
    int ok = tokenize_fast(s, n, &e->toks);
    if (ok < 0)
        return -1;
    if (ok == 0) {
        if (encode_with_fallback(e, s, n) < 0)
            return -1;
    } else {
        Py_UCS4 small[64];
        for (Py_ssize_t k = 0; k < e->toks.len; k++) {
            const Token *t = &e->toks.items[k];
            Py_ssize_t need = t->end - t->start + 3;
            Py_UCS4 *buf = need <= 64 ? small : PyMem_Malloc(need * sizeof(Py_UCS4));
            if (buf == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            int64_t id;
            if (!t->quote && !t->left_mark && !t->right_mark)
                id = token_id(e, s + t->start, t->end - t->start, NULL);
            else
                id = token_id(e, buf, token_text(s, t, buf), NULL);
            if (buf != small)
                PyMem_Free(buf);
            if (id < 0 || push_id(e, (uint32_t)id) < 0)
                return -1;
        }
    }
    return push_id(e, 0);
}

/* Paragraphs are split at whitespace runs holding two or more newlines; inside one, a
 * whitespace run becomes " " (or U+202F / U+00A0 when it holds one), as split_paragraphs
 * does. */
static int para_push(Encoder *e, Py_ssize_t *len, Py_UCS4 c) {
    if (reserve((void **)&e->para, &e->para_cap, *len + 1, sizeof(Py_UCS4), 1 << 12) < 0)
        return -1;
    e->para[(*len)++] = c;
    return 0;
}

static PyObject *Encoder_encode(Encoder *e, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "encode() takes a str");
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    e->ids_len = 0;
    Py_ssize_t plen = 0;
    Py_ssize_t i = 0;
    for (;;) {
        Py_UCS4 c = 0;
        for (; i < n && !is_space(c = PyUnicode_READ(kind, data, i)); i++)
            if (para_push(e, &plen, c) < 0)
                return NULL;
        /* a whitespace run, or the end of the text (a paragraph break) */
        int newlines = i < n ? 0 : 2;
        Py_UCS4 kept = ' ';
        for (; i < n && is_space(c = PyUnicode_READ(kind, data, i)); i++) {
            newlines += c == '\n';
            if (c == 0x202F || (c == 0xA0 && kept == ' '))
                kept = c;
        }
        if (i == n)
            newlines = 2;
        if (newlines >= 2) {
            if (plen && encode_paragraph(e, e->para, plen) < 0)
                return NULL;
            plen = 0;
            if (i == n)
                break;
        } else if (plen && para_push(e, &plen, kept) < 0) {
            return NULL;
        }
    }
    return PyBytes_FromStringAndSize((const char *)e->ids, e->ids_len * sizeof(uint32_t));
}

static int Encoder_init(Encoder *e, PyObject *args, PyObject *kwds) {
    static char *names[] = {"index", "fallback", NULL};
    PyObject *index, *fallback;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O:Encoder", names, &PyDict_Type, &index, &fallback))
        return -1;
    if (!PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "fallback must be callable");
        return -1;
    }
    Py_XSETREF(e->index, Py_NewRef(index));
    Py_XSETREF(e->fallback, Py_NewRef(fallback));
    if (e->slots == NULL && table_grow(e) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void Encoder_dealloc(Encoder *e) {
    Py_XDECREF(e->index);
    Py_XDECREF(e->fallback);
    PyMem_Free(e->slots);
    PyMem_Free(e->arena);
    PyMem_Free(e->ids);
    PyMem_Free(e->para);
    tokens_free(&e->toks);
    Py_TYPE(e)->tp_free((PyObject *)e);
}

static PyMethodDef Encoder_methods[] = {
    {"encode", (PyCFunction)Encoder_encode, METH_O,
     "encode(text) -> bytes: uint32 ids of each paragraph of a normalized text, id 0 after each."},
    {NULL}};

static PyTypeObject EncoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "genlab.markov._fastwords.Encoder",
    .tp_basicsize = sizeof(Encoder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Encoder(index, fallback): token ids of texts, new tokens added to index.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Encoder_init,
    .tp_dealloc = (destructor)Encoder_dealloc,
    .tp_methods = Encoder_methods,
};

/* ---- module --------------------------------------------------------------------------- */

static PyObject *py_configure(PyObject *self, PyObject *args) {
    PyObject *abbrev, *numbers;
    if (!PyArg_ParseTuple(args, "O!O!:configure", &PyFrozenSet_Type, &abbrev, &PyFrozenSet_Type, &numbers))
        return NULL;
    Py_XSETREF(abbreviations, Py_NewRef(abbrev));
    Py_XSETREF(number_words, Py_NewRef(numbers));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"tokenize", py_tokenize, METH_O,
     "tokenize(paragraph) -> list[str] | None: tokens of a collapsed paragraph, None outside the fast subset."},
    {"configure", py_configure, METH_VARARGS,
     "configure(abbreviations, number_words): the words whose period they keep (frozensets)."},
    {NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fastwords",
                                    "Compiled fast path of genlab's word tokenizer.", -1, methods};

PyMODINIT_FUNC PyInit__fastwords(void) {
    if (PyType_Ready(&EncoderType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Encoder", (PyObject *)&EncoderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
