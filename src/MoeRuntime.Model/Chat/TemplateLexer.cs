using System.Globalization;
using System.Text;

namespace MoeRuntime.Model.Chat;

internal enum TokenKind
{
    Name,
    String,
    Integer,
    Float,
    Operator,
}

internal readonly record struct Token(TokenKind Kind, string Text, int Line, object? Value = null)
{
    public bool Is(TokenKind kind, string text) => Kind == kind && Text == text;

    public bool IsOperator(string text) => Is(TokenKind.Operator, text);

    public bool IsName(string text) => Is(TokenKind.Name, text);

    public override string ToString() => Kind == TokenKind.String ? $"'{Text}'" : Text;
}

internal enum SegmentKind
{
    Text,
    Output,
    Statement,
}

/// <summary>A run of literal text, a <c>{{ expression }}</c> or a <c>{% statement %}</c>, with its first line.</summary>
internal sealed record Segment(SegmentKind Kind, int Line, string Text, IReadOnlyList<Token> Tokens);

/// <summary>
/// Splits a Jinja template into text, <c>{{ }}</c> and <c>{% %}</c> segments, dropping <c>{# #}</c> comments, and
/// applies whitespace control as transformers configures Jinja: <c>trim_blocks</c> (the first newline after a block
/// or comment tag is removed), <c>lstrip_blocks</c> (spaces and tabs between a line's start and a block or comment
/// tag are removed), <c>-</c> beside a delimiter (all whitespace on that side is removed) and <c>+</c> (turns the
/// two settings off for that side). Like Jinja it normalises line breaks to "\n" and drops one trailing newline.
/// </summary>
internal sealed class TemplateLexer
{
    private static readonly string[] Operators =
    [
        "//", "**", "==", "!=", "<=", ">=",
        "+", "-", "*", "/", "%", "~", "<", ">", "=", ".", ",", ":", "|", "(", ")", "[", "]", "{", "}",
    ];

    private readonly string _source;
    private readonly string _templateName;
    private readonly bool _trimBlocks;
    private readonly bool _lstripBlocks;
    private readonly List<Segment> _segments = [];
    private int _position;
    private int _line = 1;

    private TemplateLexer(string source, string templateName, bool trimBlocks, bool lstripBlocks)
    {
        _source = source;
        _templateName = templateName;
        _trimBlocks = trimBlocks;
        _lstripBlocks = lstripBlocks;
    }

    public static IReadOnlyList<Segment> Tokenize(
        string source, string templateName, bool trimBlocks = true, bool lstripBlocks = true)
    {
        // As Jinja's lexer does (keep_trailing_newline=False): every line break becomes "\n", and one line break
        // at the very end of the template is dropped.
        source = source.ReplaceLineEndings("\n");
        if (source.EndsWith('\n'))
            source = source[..^1];
        var lexer = new TemplateLexer(source, templateName, trimBlocks, lstripBlocks);
        lexer.Run();
        return lexer._segments;
    }

    private void Run()
    {
        // Whether the text that follows starts a line, as Jinja decides it for lstrip_blocks: at the start of the
        // template, or when the previous tag's consumed text ended with a newline.
        bool lineStarting = true;
        while (_position < _source.Length)
        {
            int tagStart = FindTagStart(_position);
            if (tagStart < 0)
            {
                AddText(_source[_position..]);
                break;
            }

            string text = _source[_position..tagStart];
            char kind = _source[tagStart + 1];
            int afterOpen = tagStart + 2;
            char modifier = afterOpen < _source.Length && _source[afterOpen] is '-' or '+' ? _source[afterOpen] : '\0';
            int textLines = CountNewlines(text);
            if (modifier == '-')
            {
                text = text.TrimEnd();
            }
            else if (modifier != '+' && _lstripBlocks && kind != '{')
            {
                int lineStart = text.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && lineStart < text.Length && IsAllWhitespace(text, lineStart))
                    text = text[..lineStart];
            }
            AddText(text);
            _line += textLines;
            _position = modifier == '\0' ? afterOpen : afterOpen + 1;
            int tagLine = _line;

            lineStarting = kind switch
            {
                '#' => SkipComment(tagLine),
                '{' => ReadTag(SegmentKind.Output, "}}", tagLine),
                _ => ReadTag(SegmentKind.Statement, "%}", tagLine),
            };
        }
    }

    private int FindTagStart(int from)
    {
        int index = from;
        while (true)
        {
            index = _source.IndexOf('{', index);
            if (index < 0 || index + 1 >= _source.Length)
                return -1;
            if (_source[index + 1] is '{' or '%' or '#')
                return index;
            index++;
        }
    }

    private bool SkipComment(int tagLine)
    {
        int end = _source.IndexOf("#}", _position, StringComparison.Ordinal);
        if (end < 0)
            throw Error(tagLine, "the comment '{#' opened here is never closed with '#}'");
        bool stripAfter = end > _position && _source[end - 1] == '-';
        bool keepNewline = end > _position && _source[end - 1] == '+';
        _line += CountNewlines(_source.AsSpan(_position, end - _position));
        _position = end + 2;
        return ConsumeAfterTag(stripAfter, trim: _trimBlocks && !keepNewline);
    }

    // Consumes what follows a closing delimiter; returns whether the consumed text ended with a newline.
    private bool ConsumeAfterTag(bool stripAfter, bool trim)
    {
        int start = _position;
        if (stripAfter)
        {
            while (_position < _source.Length && char.IsWhiteSpace(_source[_position]))
                _position++;
        }
        else if (trim && _position < _source.Length && _source[_position] == '\n')
        {
            _position++;
        }
        _line += CountNewlines(_source.AsSpan(start, _position - start));
        return _position > start && _source[_position - 1] == '\n';
    }

    private bool ReadTag(SegmentKind kind, string close, int tagLine)
    {
        var tokens = new List<Token>();
        string opener = kind == SegmentKind.Output ? "{{" : "{%";
        while (true)
        {
            SkipWhitespace();
            if (_position >= _source.Length)
                throw Error(tagLine, $"the tag '{opener}' opened here is never closed with '{close}'");

            char c = _source[_position];
            if ((c is '-' or '+') && Matches(_position + 1, close))
            {
                _position += 1 + close.Length;
                if (tokens.Count == 0)
                    throw Error(tagLine, $"empty '{opener} {close}' tag");
                AddTag(kind, tagLine, tokens);
                return ConsumeAfterTag(stripAfter: c == '-', trim: kind == SegmentKind.Statement && _trimBlocks && c != '+');
            }
            if (Matches(_position, close))
            {
                _position += close.Length;
                if (tokens.Count == 0)
                    throw Error(tagLine, $"empty '{opener} {close}' tag");
                AddTag(kind, tagLine, tokens);
                return ConsumeAfterTag(stripAfter: false, trim: kind == SegmentKind.Statement && _trimBlocks);
            }
            tokens.Add(ReadToken());
        }
    }

    private void AddTag(SegmentKind kind, int line, List<Token> tokens)
    {
        if (kind == SegmentKind.Statement && tokens[0].IsName("raw"))
            throw Error(line, "the 'raw' statement is not supported");
        _segments.Add(new Segment(kind, line, "", tokens));
    }

    private Token ReadToken()
    {
        char c = _source[_position];
        int line = _line;
        if (char.IsAsciiLetter(c) || c == '_')
        {
            int start = _position;
            while (_position < _source.Length && (char.IsAsciiLetterOrDigit(_source[_position]) || _source[_position] == '_'))
                _position++;
            return new Token(TokenKind.Name, _source[start.._position], line);
        }
        if (char.IsAsciiDigit(c))
            return ReadNumber(line);
        if (c is '\'' or '"')
            return ReadString(c, line);
        foreach (string op in Operators)
        {
            if (Matches(_position, op))
            {
                _position += op.Length;
                return new Token(TokenKind.Operator, op, line);
            }
        }
        throw Error(line, $"unexpected character '{c}'");
    }

    private Token ReadNumber(int line)
    {
        int start = _position;
        bool isFloat = false;
        while (_position < _source.Length && (char.IsAsciiDigit(_source[_position]) || _source[_position] == '_'))
            _position++;
        if (_position + 1 < _source.Length && _source[_position] == '.' && char.IsAsciiDigit(_source[_position + 1]))
        {
            isFloat = true;
            _position++;
            while (_position < _source.Length && (char.IsAsciiDigit(_source[_position]) || _source[_position] == '_'))
                _position++;
        }
        if (_position < _source.Length && _source[_position] is 'e' or 'E')
        {
            int exponent = _position + 1;
            if (exponent < _source.Length && _source[exponent] is '+' or '-')
                exponent++;
            if (exponent < _source.Length && char.IsAsciiDigit(_source[exponent]))
            {
                isFloat = true;
                _position = exponent;
                while (_position < _source.Length && char.IsAsciiDigit(_source[_position]))
                    _position++;
            }
        }
        string text = _source[start.._position];
        string digits = text.Replace("_", "", StringComparison.Ordinal);
        if (isFloat)
            return new Token(TokenKind.Float, text, line, double.Parse(digits, CultureInfo.InvariantCulture));
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
            throw Error(line, $"integer {text} is too large");
        return new Token(TokenKind.Integer, text, line, value);
    }

    private Token ReadString(char quote, int line)
    {
        var value = new StringBuilder();
        _position++;
        while (true)
        {
            if (_position >= _source.Length)
                throw Error(line, "a string literal is never closed");
            char c = _source[_position++];
            if (c == quote)
                break;
            if (c == '\n')
                _line++;
            if (c != '\\' || _position >= _source.Length)
            {
                value.Append(c);
                continue;
            }
            char escaped = _source[_position++];
            switch (escaped)
            {
                case 'n': value.Append('\n'); break;
                case 't': value.Append('\t'); break;
                case 'r': value.Append('\r'); break;
                case '0': value.Append('\0'); break;
                case 'a': value.Append('\a'); break;
                case 'b': value.Append('\b'); break;
                case 'f': value.Append('\f'); break;
                case 'v': value.Append('\v'); break;
                case '\\': value.Append('\\'); break;
                case '\'': value.Append('\''); break;
                case '"': value.Append('"'); break;
                case '\n': _line++; break;
                case 'x': value.Append(ReadHexEscape(2, line)); break;
                case 'u': value.Append(ReadHexEscape(4, line)); break;
                case 'U': value.Append(ReadHexEscape(8, line)); break;
                default:
                    // Python keeps an unknown escape as written.
                    value.Append('\\').Append(escaped);
                    break;
            }
        }
        return new Token(TokenKind.String, value.ToString(), line, value.ToString());
    }

    private string ReadHexEscape(int digits, int line)
    {
        if (_position + digits > _source.Length
            || !int.TryParse(_source.AsSpan(_position, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code)
            || code > 0x10FFFF)
        {
            throw Error(line, "malformed \\x, \\u or \\U escape in a string literal");
        }
        _position += digits;
        return char.ConvertFromUtf32(code);
    }

    private void SkipWhitespace()
    {
        while (_position < _source.Length && char.IsWhiteSpace(_source[_position]))
        {
            if (_source[_position] == '\n')
                _line++;
            _position++;
        }
    }

    private bool Matches(int at, string text) =>
        at + text.Length <= _source.Length && string.CompareOrdinal(_source, at, text, 0, text.Length) == 0;

    private void AddText(string text)
    {
        if (text.Length > 0)
            _segments.Add(new Segment(SegmentKind.Text, _line, text, []));
    }

    private static bool IsAllWhitespace(string text, int from)
    {
        for (int i = from; i < text.Length; i++)
        {
            if (!char.IsWhiteSpace(text[i]))
                return false;
        }
        return true;
    }

    private static int CountNewlines(ReadOnlySpan<char> text) => text.Count('\n');

    private ChatTemplateException Error(int line, string message) =>
        new($"chat template '{_templateName}', line {line}: {message}", _templateName, line, raisedByTemplate: false);
}
