namespace MoeRuntime.Model.Chat;

/// <summary>
/// Parses the segments of <see cref="TemplateLexer"/> into statements and expressions, following Jinja's grammar
/// and operator precedence, and refuses any construct outside the supported subset by name.
/// </summary>
internal sealed class TemplateParser
{
    private static readonly HashSet<string> UnsupportedStatements =
    [
        "macro", "endmacro", "call", "endcall", "filter", "endfilter", "include", "import", "from", "extends", "block",
        "endblock", "with", "endwith", "autoescape", "endautoescape", "do", "trans", "endtrans", "pluralize", "print",
        "endraw", "endset",
    ];

    private static readonly HashSet<string> Keywords =
    [
        "in", "not", "and", "or", "is", "if", "else", "true", "false", "none", "True", "False", "None",
    ];

    private static readonly HashSet<string> CompareOperators = ["==", "!=", "<", ">", "<=", ">="];

    private readonly IReadOnlyList<Segment> _segments;
    private readonly string _templateName;
    private int _segment;

    // The expression being parsed: its tokens, the position in them and the line of its tag.
    private IReadOnlyList<Token> _tokens = [];
    private int _position;
    private int _tagLine;

    private TemplateParser(IReadOnlyList<Segment> segments, string templateName)
    {
        _segments = segments;
        _templateName = templateName;
    }

    public static IReadOnlyList<Node> Parse(IReadOnlyList<Segment> segments, string templateName)
    {
        var parser = new TemplateParser(segments, templateName);
        IReadOnlyList<Node> body = parser.ParseBody(openedBy: null, openedOnLine: 0, out string? end);
        if (end is not null)
            throw parser.Error(parser._tagLine, $"unexpected '{end}'");
        return body;
    }

    // Parses statements until one of the closing keywords of the block opened by `openedBy` (null at top level).
    private List<Node> ParseBody(string? openedBy, int openedOnLine, out string? end)
    {
        EnsureStack();
        var nodes = new List<Node>();
        while (_segment < _segments.Count)
        {
            Segment segment = _segments[_segment++];
            switch (segment.Kind)
            {
                case SegmentKind.Text:
                    nodes.Add(new TextNode(segment.Line, segment.Text));
                    break;
                case SegmentKind.Output:
                    Begin(segment, 0);
                    nodes.Add(new OutputNode(segment.Line, ParseExpressionToEnd()));
                    break;
                default:
                    Token keyword = segment.Tokens[0];
                    _tagLine = segment.Line;
                    if (keyword.Kind != TokenKind.Name)
                        throw Error(segment.Line, $"a statement must start with a keyword, not '{keyword}'");
                    if (IsClosing(openedBy, keyword.Text))
                    {
                        Begin(segment, 1);
                        end = keyword.Text;
                        return nodes;
                    }
                    nodes.Add(ParseStatement(segment, keyword.Text));
                    break;
            }
        }
        if (openedBy is not null)
        {
            string block = openedBy.StartsWith("else-", StringComparison.Ordinal) ? openedBy[5..] : openedBy;
            throw Error(openedOnLine,
                $"the '{block}' block opened here is never closed (expected '{{% end{block} %}}' before the end of the template)");
        }
        end = null;
        return nodes;
    }

    private static bool IsClosing(string? openedBy, string keyword) => openedBy switch
    {
        "if" => keyword is "elif" or "else" or "endif",
        "else-if" => keyword is "endif",
        "for" => keyword is "else" or "endfor",
        "else-for" => keyword is "endfor",
        "generation" => keyword is "endgeneration",
        _ => false,
    };

    private Node ParseStatement(Segment segment, string keyword)
    {
        int line = segment.Line;
        switch (keyword)
        {
            case "if":
                Begin(segment, 1);
                return ParseIf(line);
            case "for":
                Begin(segment, 1);
                return ParseFor(line);
            case "set":
                Begin(segment, 1);
                return ParseSet(line);
            case "generation":
                // transformers' AssistantTracker extension: marks assistant text for masks; when rendering a prompt
                // its body is output as is.
                Begin(segment, 1);
                ExpectEnd();
                List<Node> generated = ParseBody("generation", line, out _);
                ExpectEnd();
                return new IfNode(line, [(new LiteralExpr(line, true), generated)], []);
            case "break":
                Begin(segment, 1);
                ExpectEnd();
                return new BreakNode(line);
            case "continue":
                Begin(segment, 1);
                ExpectEnd();
                return new ContinueNode(line);
            case "elif" or "else" or "endif" or "endfor" or "endgeneration":
                throw Error(line, $"unexpected '{keyword}' outside a block it could close");
            default:
                if (UnsupportedStatements.Contains(keyword))
                    throw Error(line, $"the '{keyword}' statement is not supported");
                throw Error(line, $"unknown statement '{keyword}'");
        }
    }

    private IfNode ParseIf(int line)
    {
        var branches = new List<(Expr, IReadOnlyList<Node>)>();
        Expr condition = ParseExpressionToEnd();
        while (true)
        {
            List<Node> body = ParseBody("if", line, out string? end);
            branches.Add((condition, body));
            if (end == "elif")
            {
                condition = ParseExpressionToEnd();
                continue;
            }
            ExpectEnd();
            if (end == "endif")
                return new IfNode(line, branches, []);
            List<Node> elseBody = ParseBody("else-if", line, out _);
            ExpectEnd();
            return new IfNode(line, branches, elseBody);
        }
    }

    private ForNode ParseFor(int line)
    {
        var targets = new List<string> { ExpectName("a loop variable") };
        while (TryOperator(","))
            targets.Add(ExpectName("a loop variable"));
        if (!TryName("in"))
            throw Error(CurrentLine, "expected 'in' after the loop variable of 'for'");
        Expr iterable = ParseOr();
        Expr? filter = null;
        if (TryName("if"))
            filter = ParseConditional();
        if (Peek() is { } extra && extra.IsName("recursive"))
            throw Error(line, "recursive loops ('for ... recursive') are not supported");
        ExpectEnd();
        List<Node> body = ParseBody("for", line, out string? end);
        if (end == "endfor")
        {
            ExpectEnd();
            return new ForNode(line, targets, iterable, filter, body, []);
        }
        ExpectEnd();
        List<Node> elseBody = ParseBody("else-for", line, out _);
        ExpectEnd();
        return new ForNode(line, targets, iterable, filter, body, elseBody);
    }

    private SetNode ParseSet(int line)
    {
        string name = ExpectName("a variable name");
        string? attribute = null;
        if (TryOperator("."))
            attribute = ExpectName("an attribute name");
        if (Peek() is { } comma && comma.IsOperator(","))
            throw Error(line, "assigning several variables at once ('set a, b = ...') is not supported");
        if (!TryOperator("="))
            throw Error(line, "the block form of 'set' ({% set name %}...{% endset %}) is not supported");
        return new SetNode(line, name, attribute, ParseExpressionToEnd());
    }

    private void Begin(Segment segment, int position)
    {
        _tokens = segment.Tokens;
        _position = position;
        _tagLine = segment.Line;
    }

    private Expr ParseExpressionToEnd()
    {
        if (Peek() is null)
            throw Error(_tagLine, "expected an expression");
        Expr expression = ParseConditional();
        ExpectEnd();
        return expression;
    }

    private void ExpectEnd()
    {
        if (Peek() is { } token)
            throw Error(token.Line, $"unexpected '{token}'");
    }

    // conditional := or ('if' or ('else' conditional)?)*
    private Expr ParseConditional()
    {
        EnsureStack();
        Expr expression = ParseOr();
        while (TryName("if"))
        {
            int line = CurrentLine;
            Expr condition = ParseOr();
            Expr? whenFalse = TryName("else") ? ParseConditional() : null;
            expression = new ConditionalExpr(line, condition, expression, whenFalse);
        }
        return expression;
    }

    private Expr ParseOr()
    {
        Expr left = ParseAnd();
        while (TryName("or"))
            left = new BinaryExpr(left.Line, "or", left, ParseAnd());
        return left;
    }

    private Expr ParseAnd()
    {
        Expr left = ParseNot();
        while (TryName("and"))
            left = new BinaryExpr(left.Line, "and", left, ParseNot());
        return left;
    }

    private Expr ParseNot()
    {
        if (Peek() is { } token && token.IsName("not"))
        {
            _position++;
            return new UnaryExpr(token.Line, "not", ParseNot());
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        Expr first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (Peek() is { } token)
        {
            if (token.Kind == TokenKind.Operator && CompareOperators.Contains(token.Text))
            {
                _position++;
                rest.Add((token.Text, ParseMath1()));
            }
            else if (token.IsName("in"))
            {
                _position++;
                rest.Add(("in", ParseMath1()));
            }
            else if (token.IsName("not") && PeekAt(1) is { } next && next.IsName("in"))
            {
                _position += 2;
                rest.Add(("not in", ParseMath1()));
            }
            else
            {
                break;
            }
        }
        return rest.Count == 0 ? first : new CompareExpr(first.Line, first, rest);
    }

    private Expr ParseMath1()
    {
        Expr left = ParseConcat();
        while (Peek() is { Kind: TokenKind.Operator, Text: "+" or "-" } token)
        {
            _position++;
            left = new BinaryExpr(token.Line, token.Text, left, ParseConcat());
        }
        return left;
    }

    private Expr ParseConcat()
    {
        Expr left = ParseMath2();
        while (Peek() is { Kind: TokenKind.Operator, Text: "~" } token)
        {
            _position++;
            left = new BinaryExpr(token.Line, "~", left, ParseMath2());
        }
        return left;
    }

    private Expr ParseMath2()
    {
        Expr left = ParsePow();
        while (Peek() is { Kind: TokenKind.Operator, Text: "*" or "/" or "//" or "%" } token)
        {
            _position++;
            left = new BinaryExpr(token.Line, token.Text, left, ParsePow());
        }
        return left;
    }

    private Expr ParsePow()
    {
        Expr left = ParseUnary(withFilter: true);
        while (Peek() is { Kind: TokenKind.Operator, Text: "**" } token)
        {
            _position++;
            left = new BinaryExpr(token.Line, "**", left, ParseUnary(withFilter: true));
        }
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        EnsureStack();
        Expr node;
        if (Peek() is { Kind: TokenKind.Operator, Text: "-" or "+" } sign)
        {
            _position++;
            node = new UnaryExpr(sign.Line, sign.Text, ParseUnary(withFilter: false));
        }
        else
        {
            node = ParsePrimary();
        }
        node = ParsePostfix(node);
        return withFilter ? ParseFiltersAndTests(node) : node;
    }

    private Expr ParsePrimary()
    {
        Token token = Next("an expression");
        switch (token.Kind)
        {
            case TokenKind.Name:
                return token.Text switch
                {
                    "true" or "True" => new LiteralExpr(token.Line, true),
                    "false" or "False" => new LiteralExpr(token.Line, false),
                    "none" or "None" => new LiteralExpr(token.Line, null),
                    _ => new NameExpr(token.Line, token.Text),
                };
            case TokenKind.String:
                string text = (string)token.Value!;
                while (Peek() is { Kind: TokenKind.String } adjacent)
                {
                    _position++;
                    text += (string)adjacent.Value!;
                }
                return new LiteralExpr(token.Line, text);
            case TokenKind.Integer:
            case TokenKind.Float:
                return new LiteralExpr(token.Line, token.Value);
        }
        switch (token.Text)
        {
            case "(":
                if (TryOperator(")"))
                    return new ListExpr(token.Line, []);
                Expr inner = ParseConditional();
                if (Peek() is { } comma && comma.IsOperator(","))
                {
                    var items = new List<Expr> { inner };
                    while (TryOperator(",") && !(Peek() is { } close && close.IsOperator(")")))
                        items.Add(ParseConditional());
                    inner = new ListExpr(token.Line, items);
                }
                ExpectOperator(")");
                return inner;
            case "[":
                var list = new List<Expr>();
                while (!TryOperator("]"))
                {
                    if (list.Count > 0)
                    {
                        ExpectOperator(",");
                        if (TryOperator("]"))
                            break;
                    }
                    list.Add(ParseConditional());
                }
                return new ListExpr(token.Line, list);
            case "{":
                var pairs = new List<(Expr, Expr)>();
                while (!TryOperator("}"))
                {
                    if (pairs.Count > 0)
                    {
                        ExpectOperator(",");
                        if (TryOperator("}"))
                            break;
                    }
                    Expr key = ParseConditional();
                    ExpectOperator(":");
                    pairs.Add((key, ParseConditional()));
                }
                return new DictExpr(token.Line, pairs);
            default:
                throw Error(token.Line, $"unexpected '{token}'");
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        while (Peek() is { Kind: TokenKind.Operator } token)
        {
            if (token.Text == ".")
            {
                _position++;
                Token name = Next("an attribute name");
                if (name.Kind == TokenKind.Integer)
                {
                    node = new ItemExpr(name.Line, node, new LiteralExpr(name.Line, name.Value));
                    continue;
                }
                if (name.Kind != TokenKind.Name)
                    throw Error(name.Line, $"expected an attribute name after '.', found '{name}'");
                if (Peek() is { } open && open.IsOperator("("))
                {
                    if (!Builtins.Methods.Contains(name.Text))
                        throw Error(name.Line, $"method '{name.Text}' is not supported");
                    _position++;
                    (List<Expr> args, List<(string, Expr)> kwargs) = ParseCallArguments();
                    node = new CallExpr(name.Line, node, name.Text, args, kwargs);
                }
                else
                {
                    node = new AttributeExpr(name.Line, node, name.Text);
                }
            }
            else if (token.Text == "[")
            {
                _position++;
                node = ParseSubscript(node, token.Line);
            }
            else if (token.Text == "(")
            {
                _position++;
                if (node is not NameExpr function)
                    throw Error(token.Line, "only named functions and methods can be called");
                if (!Builtins.Functions.Contains(function.Name))
                    throw Error(token.Line, $"function '{function.Name}' is not supported");
                (List<Expr> args, List<(string, Expr)> kwargs) = ParseCallArguments();
                node = new CallExpr(token.Line, null, function.Name, args, kwargs);
            }
            else
            {
                break;
            }
        }
        return node;
    }

    private Expr ParseSubscript(Expr target, int line)
    {
        Expr? start = null;
        if (!(Peek() is { } first && first.IsOperator(":")))
        {
            start = ParseConditional();
            if (TryOperator("]"))
                return new ItemExpr(line, target, start);
        }
        ExpectOperator(":");
        Expr? stop = Peek() is { } s && (s.IsOperator("]") || s.IsOperator(":")) ? null : ParseConditional();
        Expr? step = null;
        if (TryOperator(":") && !(Peek() is { } close && close.IsOperator("]")))
            step = ParseConditional();
        ExpectOperator("]");
        return new SliceExpr(line, target, start, stop, step);
    }

    // After '(' : positional arguments, then name=value arguments, then ')'.
    private (List<Expr>, List<(string, Expr)>) ParseCallArguments()
    {
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!TryOperator(")"))
        {
            if (args.Count + kwargs.Count > 0)
            {
                ExpectOperator(",");
                if (TryOperator(")"))
                    break;
            }
            if (Peek() is { Kind: TokenKind.Operator, Text: "*" or "**" } star)
                throw Error(star.Line, "'*args' and '**kwargs' in calls are not supported");
            if (Peek() is { Kind: TokenKind.Name } name && PeekAt(1) is { } equals && equals.IsOperator("="))
            {
                _position += 2;
                kwargs.Add((name.Text, ParseConditional()));
            }
            else
            {
                if (kwargs.Count > 0)
                    throw Error(CurrentLine, "a positional argument cannot follow a keyword argument");
                args.Add(ParseConditional());
            }
        }
        return (args, kwargs);
    }

    private Expr ParseFiltersAndTests(Expr node)
    {
        while (Peek() is { } token)
        {
            if (token.IsOperator("|"))
            {
                _position++;
                Token name = Next("a filter name");
                if (name.Kind != TokenKind.Name)
                    throw Error(name.Line, $"expected a filter name after '|', found '{name}'");
                if (!Builtins.Filters.Contains(name.Text))
                    throw Error(name.Line, $"filter '{name.Text}' is not supported");
                List<Expr> args = [];
                List<(string, Expr)> kwargs = [];
                if (TryOperator("("))
                    (args, kwargs) = ParseCallArguments();
                node = new FilterExpr(name.Line, node, name.Text, args, kwargs);
            }
            else if (token.IsName("is"))
            {
                _position++;
                bool negated = TryName("not");
                Token name = Next("a test name");
                if (name.Kind != TokenKind.Name && !(name.Kind == TokenKind.Operator && name.Text is "==" or "!=" or "<" or ">" or "<=" or ">="))
                    throw Error(name.Line, $"expected a test name after 'is', found '{name}'");
                if (name.Kind == TokenKind.Name && name.Text is "true" or "false" or "none" or "True" or "False" or "None")
                    name = name with { Text = name.Text.ToLowerInvariant() };
                if (!Builtins.Tests.Contains(name.Text))
                    throw Error(name.Line, $"test '{name.Text}' is not supported");
                List<Expr> args = [];
                if (TryOperator("("))
                {
                    (args, List<(string, Expr)> kwargs) = ParseCallArguments();
                    if (kwargs.Count > 0)
                        throw Error(name.Line, "keyword arguments to tests are not supported");
                }
                else if (Peek() is { } argument
                    && (argument.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float
                        || (argument.Kind == TokenKind.Name && argument.Text is not ("else" or "or" or "and" or "if" or "is" or "in" or "not"))
                        || argument.IsOperator("[") || argument.IsOperator("{")))
                {
                    args = [ParsePostfix(ParsePrimary())];
                }
                node = new TestExpr(name.Line, node, name.Text, args, negated);
            }
            else
            {
                break;
            }
        }
        return node;
    }

    // A template nested deeper than the stack allows is refused instead of crashing the process.
    private void EnsureStack()
    {
        if (!System.Runtime.CompilerServices.RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw Error(CurrentLine, "the template nests too deeply");
    }

    private Token? Peek() => _position < _tokens.Count ? _tokens[_position] : null;

    private Token? PeekAt(int offset) => _position + offset < _tokens.Count ? _tokens[_position + offset] : null;

    private int CurrentLine => Peek()?.Line ?? _tagLine;

    private Token Next(string expected)
    {
        if (Peek() is not { } token)
            throw Error(_tagLine, $"expected {expected} but the tag ends");
        _position++;
        return token;
    }

    private bool TryName(string name)
    {
        if (Peek() is { } token && token.IsName(name))
        {
            _position++;
            return true;
        }
        return false;
    }

    private bool TryOperator(string op)
    {
        if (Peek() is { } token && token.IsOperator(op))
        {
            _position++;
            return true;
        }
        return false;
    }

    private void ExpectOperator(string op)
    {
        Token token = Next($"'{op}'");
        if (!token.IsOperator(op))
            throw Error(token.Line, $"expected '{op}', found '{token}'");
    }

    private string ExpectName(string what)
    {
        Token token = Next(what);
        if (token.Kind != TokenKind.Name || Keywords.Contains(token.Text))
            throw Error(token.Line, $"expected {what}, found '{token}'");
        return token.Text;
    }

    private ChatTemplateException Error(int line, string message) =>
        new($"chat template '{_templateName}', line {line}: {message}", _templateName, line, raisedByTemplate: false);
}
