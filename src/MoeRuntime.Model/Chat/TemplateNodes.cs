namespace MoeRuntime.Model.Chat;

// Statements of a parsed template.
internal abstract record Node(int Line);

internal sealed record TextNode(int Line, string Text) : Node(Line);

internal sealed record OutputNode(int Line, Expr Value) : Node(Line);

internal sealed record IfNode(int Line, IReadOnlyList<(Expr Condition, IReadOnlyList<Node> Body)> Branches, IReadOnlyList<Node> Else)
    : Node(Line);

internal sealed record ForNode(
    int Line,
    IReadOnlyList<string> Targets,
    Expr Iterable,
    Expr? Filter,
    IReadOnlyList<Node> Body,
    IReadOnlyList<Node> Else) : Node(Line);

/// <summary><c>{% set name = value %}</c>, or <c>{% set name.attribute = value %}</c> on a namespace.</summary>
internal sealed record SetNode(int Line, string Name, string? Attribute, Expr Value) : Node(Line);

internal sealed record BreakNode(int Line) : Node(Line);

internal sealed record ContinueNode(int Line) : Node(Line);

// Expressions.
internal abstract record Expr(int Line);

internal sealed record LiteralExpr(int Line, object? Value) : Expr(Line);

internal sealed record NameExpr(int Line, string Name) : Expr(Line);

internal sealed record ListExpr(int Line, IReadOnlyList<Expr> Items) : Expr(Line);

internal sealed record DictExpr(int Line, IReadOnlyList<(Expr Key, Expr Value)> Items) : Expr(Line);

internal sealed record AttributeExpr(int Line, Expr Target, string Name) : Expr(Line);

internal sealed record ItemExpr(int Line, Expr Target, Expr Key) : Expr(Line);

internal sealed record SliceExpr(int Line, Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr(Line);

/// <summary>A call of a global function (<c>raise_exception(...)</c>) when Target is null, else of a method.</summary>
internal sealed record CallExpr(int Line, Expr? Target, string Name, IReadOnlyList<Expr> Arguments, IReadOnlyList<(string Name, Expr Value)> KeywordArguments)
    : Expr(Line);

internal sealed record FilterExpr(int Line, Expr Value, string Name, IReadOnlyList<Expr> Arguments, IReadOnlyList<(string Name, Expr Value)> KeywordArguments)
    : Expr(Line);

internal sealed record TestExpr(int Line, Expr Value, string Name, IReadOnlyList<Expr> Arguments, bool Negated) : Expr(Line);

internal sealed record UnaryExpr(int Line, string Operator, Expr Operand) : Expr(Line);

internal sealed record BinaryExpr(int Line, string Operator, Expr Left, Expr Right) : Expr(Line);

/// <summary>A comparison chain: <c>a &lt; b &lt; c</c> means <c>a &lt; b and b &lt; c</c>.</summary>
internal sealed record CompareExpr(int Line, Expr First, IReadOnlyList<(string Operator, Expr Operand)> Rest) : Expr(Line);

internal sealed record ConditionalExpr(int Line, Expr Condition, Expr WhenTrue, Expr? WhenFalse) : Expr(Line);
