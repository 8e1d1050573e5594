using System.Text;

namespace MoeRuntime.Model.Chat;

/// <summary>An error while rendering, before the line of the expression that caused it is attached.</summary>
internal sealed class RenderError(string message) : Exception(message)
{
    public int? Line { get; set; }
}

/// <summary>Executes a parsed template against a set of variables, with Jinja's scoping and Python's semantics.</summary>
internal sealed class TemplateRenderer
{
    private const int MaxRangeLength = 1_000_000;

    private readonly string _templateName;
    private readonly StringBuilder _output = new();

    private TemplateRenderer(string templateName)
    {
        _templateName = templateName;
    }

    public static string Render(IReadOnlyList<Node> nodes, string templateName, IReadOnlyDictionary<string, object?> variables)
    {
        var renderer = new TemplateRenderer(templateName);
        var scope = new Scope(null);
        foreach ((string name, object? value) in variables)
            scope.Set(name, value);
        renderer.ExecuteBody(nodes, scope);
        return renderer._output.ToString();
    }

    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    private sealed class Scope(Scope? parent)
    {
        private readonly Dictionary<string, object?> _variables = new(StringComparer.Ordinal);

        public bool TryGet(string name, out object? value)
        {
            for (Scope? scope = this; scope is not null; scope = scope.Parent)
            {
                if (scope._variables.TryGetValue(name, out value))
                    return true;
            }
            value = null;
            return false;
        }

        public void Set(string name, object? value) => _variables[name] = value;

        private Scope? Parent { get; } = parent;
    }

    private Flow ExecuteBody(IReadOnlyList<Node> nodes, Scope scope)
    {
        if (!System.Runtime.CompilerServices.RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw new ChatTemplateException($"chat template '{_templateName}': the template nests too deeply");
        foreach (Node node in nodes)
        {
            Flow flow;
            try
            {
                flow = Execute(node, scope);
            }
            catch (RenderError error)
            {
                int line = error.Line ?? node.Line;
                throw new ChatTemplateException(
                    $"chat template '{_templateName}', line {line}: {error.Message}", _templateName, line, raisedByTemplate: false);
            }
            if (flow != Flow.Normal)
                return flow;
        }
        return Flow.Normal;
    }

    private Flow Execute(Node node, Scope scope)
    {
        switch (node)
        {
            case TextNode text:
                _output.Append(text.Text);
                return Flow.Normal;
            case OutputNode output:
                _output.Append(PyValue.Str(Evaluate(output.Value, scope)));
                return Flow.Normal;
            case IfNode conditional:
                foreach ((Expr condition, IReadOnlyList<Node> body) in conditional.Branches)
                {
                    if (PyValue.IsTrue(Evaluate(condition, scope)))
                        return ExecuteBody(body, scope);
                }
                return ExecuteBody(conditional.Else, scope);
            case ForNode loop:
                return ExecuteFor(loop, scope);
            case SetNode set:
                object? value = Evaluate(set.Value, scope);
                if (set.Attribute is null)
                {
                    scope.Set(set.Name, value);
                }
                else
                {
                    scope.TryGet(set.Name, out object? target);
                    if (target is not Namespace ns)
                        throw new RenderError($"cannot assign attribute '{set.Attribute}' on '{set.Name}': it is not a namespace()");
                    ns.Attributes[set.Attribute] = value;
                }
                return Flow.Normal;
            case BreakNode:
                return Flow.Break;
            case ContinueNode:
                return Flow.Continue;
            default:
                throw new InvalidOperationException($"unknown node {node.GetType().Name}");
        }
    }

    private Flow ExecuteFor(ForNode loop, Scope scope)
    {
        List<object?> items = Builtins.Iterate(Evaluate(loop.Iterable, scope));
        if (loop.Filter is not null)
        {
            var kept = new List<object?>();
            foreach (object? item in items)
            {
                var filterScope = new Scope(scope);
                BindTargets(loop.Targets, item, filterScope);
                if (PyValue.IsTrue(Evaluate(loop.Filter, filterScope)))
                    kept.Add(item);
            }
            items = kept;
        }
        if (items.Count == 0)
            return ExecuteBody(loop.Else, scope);

        var context = new LoopContext(items);
        for (int i = 0; i < items.Count; i++)
        {
            // Each iteration sees the enclosing variables but its own assignments stay inside it, as in Jinja.
            var iterationScope = new Scope(scope);
            BindTargets(loop.Targets, items[i], iterationScope);
            context.Index0 = i;
            iterationScope.Set("loop", context);
            if (ExecuteBody(loop.Body, iterationScope) == Flow.Break)
                break;
        }
        return Flow.Normal;
    }

    private static void BindTargets(IReadOnlyList<string> targets, object? item, Scope scope)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], item);
            return;
        }
        List<object?> values = Builtins.Iterate(item);
        if (values.Count != targets.Count)
            throw new RenderError($"cannot unpack {values.Count} values into {targets.Count} loop variables");
        for (int i = 0; i < targets.Count; i++)
            scope.Set(targets[i], values[i]);
    }

    private object? Evaluate(Expr expression, Scope scope)
    {
        if (!System.Runtime.CompilerServices.RuntimeHelpers.TryEnsureSufficientExecutionStack())
            throw new RenderError("the expression nests too deeply");
        try
        {
            return EvaluateCore(expression, scope);
        }
        catch (RenderError error) when (error.Line is null)
        {
            error.Line = expression.Line;
            throw;
        }
    }

    private object? EvaluateCore(Expr expression, Scope scope)
    {
        switch (expression)
        {
            case LiteralExpr literal:
                return literal.Value;
            case NameExpr name:
                return scope.TryGet(name.Name, out object? value) ? value : new Undefined($"'{name.Name}' is undefined");
            case ListExpr list:
                return list.Items.Select(item => Evaluate(item, scope)).ToList();
            case DictExpr dict:
                var result = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach ((Expr key, Expr item) in dict.Items)
                {
                    if (Evaluate(key, scope) is not string text)
                        throw new RenderError("dictionary keys must be strings");
                    result[text] = Evaluate(item, scope);
                }
                return result;
            case AttributeExpr attribute:
                return Builtins.GetAttribute(Evaluate(attribute.Target, scope), attribute.Name);
            case ItemExpr item:
                return Builtins.GetItem(Evaluate(item.Target, scope), Evaluate(item.Key, scope));
            case SliceExpr slice:
                return Builtins.Slice(
                    Evaluate(slice.Target, scope),
                    slice.Start is null ? null : Evaluate(slice.Start, scope),
                    slice.Stop is null ? null : Evaluate(slice.Stop, scope),
                    slice.Step is null ? null : Evaluate(slice.Step, scope));
            case CallExpr call:
                return EvaluateCall(call, scope);
            case FilterExpr filter:
                return Builtins.ApplyFilter(
                    filter.Name,
                    Evaluate(filter.Value, scope),
                    filter.Arguments.Select(argument => Evaluate(argument, scope)).ToList(),
                    EvaluateKeywords(filter.KeywordArguments, scope));
            case TestExpr test:
                bool passed = Builtins.ApplyTest(
                    test.Name, Evaluate(test.Value, scope), test.Arguments.Select(argument => Evaluate(argument, scope)).ToList());
                return passed != test.Negated;
            case UnaryExpr unary:
                object? operand = Evaluate(unary.Operand, scope);
                return unary.Operator == "not" ? !PyValue.IsTrue(operand) : Builtins.Negate(unary.Operator, operand);
            case BinaryExpr binary when binary.Operator == "and":
                object? left = Evaluate(binary.Left, scope);
                return PyValue.IsTrue(left) ? Evaluate(binary.Right, scope) : left;
            case BinaryExpr binary when binary.Operator == "or":
                object? first = Evaluate(binary.Left, scope);
                return PyValue.IsTrue(first) ? first : Evaluate(binary.Right, scope);
            case BinaryExpr binary:
                return Builtins.Arithmetic(binary.Operator, Evaluate(binary.Left, scope), Evaluate(binary.Right, scope));
            case CompareExpr compare:
                object? current = Evaluate(compare.First, scope);
                foreach ((string op, Expr operandExpression) in compare.Rest)
                {
                    object? next = Evaluate(operandExpression, scope);
                    if (!Builtins.Compare(op, current, next))
                        return false;
                    current = next;
                }
                return true;
            case ConditionalExpr conditional:
                if (PyValue.IsTrue(Evaluate(conditional.Condition, scope)))
                    return Evaluate(conditional.WhenTrue, scope);
                return conditional.WhenFalse is null
                    ? new Undefined("the inline 'if' has no 'else'")
                    : Evaluate(conditional.WhenFalse, scope);
            default:
                throw new InvalidOperationException($"unknown expression {expression.GetType().Name}");
        }
    }

    private Dictionary<string, object?> EvaluateKeywords(IReadOnlyList<(string Name, Expr Value)> keywords, Scope scope)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach ((string name, Expr value) in keywords)
            result[name] = Evaluate(value, scope);
        return result;
    }

    private object? EvaluateCall(CallExpr call, Scope scope)
    {
        List<object?> args = call.Arguments.Select(argument => Evaluate(argument, scope)).ToList();
        Dictionary<string, object?> kwargs = EvaluateKeywords(call.KeywordArguments, scope);
        if (call.Target is not null)
            return Builtins.CallMethod(Evaluate(call.Target, scope), call.Name, args, kwargs);

        switch (call.Name)
        {
            case "raise_exception":
                string message = args.Count > 0 ? PyValue.Str(args[0]) : "the chat template raised an exception";
                throw new ChatTemplateException(message, _templateName, call.Line, raisedByTemplate: true);
            case "namespace":
                var ns = new Namespace();
                foreach (object? argument in args)
                {
                    if (argument is not Dictionary<string, object?> initial)
                        throw new RenderError("namespace() takes keyword arguments or a dict");
                    foreach ((string key, object? value) in initial)
                        ns.Attributes[key] = value;
                }
                foreach ((string key, object? value) in kwargs)
                    ns.Attributes[key] = value;
                return ns;
            case "dict":
                return new Dictionary<string, object?>(kwargs, StringComparer.Ordinal);
            case "range":
                return Range(args);
            default:
                throw new RenderError($"function '{call.Name}' is not supported");
        }
    }

    private static List<object?> Range(List<object?> args)
    {
        if (args.Count is < 1 or > 3 || args.Any(argument => argument is not (long or bool)))
            throw new RenderError("range() takes one to three integers");
        long start = args.Count == 1 ? 0 : PyValue.ToLong(args[0]);
        long stop = PyValue.ToLong(args.Count == 1 ? args[0] : args[1]);
        long step = args.Count == 3 ? PyValue.ToLong(args[2]) : 1;
        if (step == 0)
            throw new RenderError("range() step must not be zero");
        var result = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            if (result.Count >= MaxRangeLength)
                throw new RenderError($"range() longer than {MaxRangeLength} items");
            result.Add(i);
        }
        return result;
    }
}
