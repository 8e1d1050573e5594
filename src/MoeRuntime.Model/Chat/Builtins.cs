using System.Globalization;
using System.Text;

namespace MoeRuntime.Model.Chat;

/// <summary>
/// The filters, tests, methods and functions templates may use, with Jinja's and Python's behaviour. The name sets
/// are checked when a template is parsed, so anything else is refused before a request ever renders it.
/// </summary>
internal static class Builtins
{
    public static readonly HashSet<string> Functions = ["raise_exception", "namespace", "range", "dict"];

    public static readonly HashSet<string> Methods =
    [
        "strip", "lstrip", "rstrip", "startswith", "endswith", "split", "lower", "upper", "title", "capitalize",
        "replace", "find", "count", "join", "items", "keys", "values", "get", "cycle",
    ];

    public static readonly HashSet<string> Filters =
    [
        "trim", "length", "count", "string", "lower", "upper", "capitalize", "title", "first", "last", "join",
        "default", "d", "list", "tojson", "replace", "int", "float", "abs", "items", "reverse", "safe", "selectattr",
        "rejectattr", "map",
    ];

    public static readonly HashSet<string> Tests =
    [
        "defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "true", "false", "mapping",
        "iterable", "sequence", "even", "odd", "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt", "<", "le", "<=",
        "gt", ">", "ge", ">=", "in", "sameas", "lower", "upper",
    ];

    public static List<object?> Iterate(object? value) => value switch
    {
        List<object?> list => list,
        Dictionary<string, object?> dict => dict.Keys.Cast<object?>().ToList(),
        string s => Characters(s).Cast<object?>().ToList(),
        Undefined => [],
        _ => throw new RenderError($"'{PyValue.TypeName(value)}' object is not iterable"),
    };

    // Python indexes strings by code point; a surrogate pair is one character.
    private static List<string> Characters(string s)
    {
        var characters = new List<string>(s.Length);
        foreach (Rune rune in s.EnumerateRunes())
            characters.Add(rune.ToString());
        return characters;
    }

    // Python's methods of str and dict: Jinja's getattr finds these before a dict's keys.
    private static readonly HashSet<string> StringMethodNames =
    [
        "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format", "format_map",
        "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric",
        "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans", "partition",
        "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split",
        "splitlines", "startswith", "strip", "swapcase", "title", "translate", "upper", "zfill",
    ];

    private static readonly HashSet<string> DictMethodNames =
    [
        "clear", "copy", "fromkeys", "get", "items", "keys", "pop", "popitem", "setdefault", "update", "values",
    ];

    public static object? GetAttribute(object? target, string name) => target switch
    {
        Undefined undefined => throw new RenderError(undefined.Description),
        string when StringMethodNames.Contains(name) => new BoundMethod("str", name),
        Dictionary<string, object?> when DictMethodNames.Contains(name) => new BoundMethod("dict", name),
        Dictionary<string, object?> dict => dict.TryGetValue(name, out object? value)
            ? value
            : new Undefined($"'dict object' has no attribute '{name}'"),
        Namespace ns => ns.Attributes.TryGetValue(name, out object? value)
            ? value
            : new Undefined($"'namespace' has no attribute '{name}'"),
        LoopContext loop => loop.Attribute(name),
        _ => new Undefined($"'{PyValue.TypeName(target)} object' has no attribute '{name}'"),
    };

    public static object? GetItem(object? target, object? key)
    {
        switch (target)
        {
            case Undefined undefined:
                throw new RenderError(undefined.Description);
            case List<object?> list when key is long or bool:
                long index = PyValue.ToLong(key);
                if (index < 0)
                    index += list.Count;
                return index >= 0 && index < list.Count ? list[(int)index] : new Undefined($"list index {key} out of range");
            case string s when key is long or bool:
                List<string> characters = Characters(s);
                long position = PyValue.ToLong(key);
                if (position < 0)
                    position += characters.Count;
                return position >= 0 && position < characters.Count
                    ? characters[(int)position]
                    : new Undefined($"string index {key} out of range");
            case Dictionary<string, object?> dict:
                return key is string name && dict.TryGetValue(name, out object? value)
                    ? value
                    : new Undefined($"'dict object' has no attribute {PyValue.Repr(key)}");
            case Namespace or LoopContext when key is string attribute:
                return GetAttribute(target, attribute);
            default:
                return new Undefined($"'{PyValue.TypeName(target)} object' has no item {PyValue.Repr(key)}");
        }
    }

    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        if (target is Undefined undefined)
            throw new RenderError(undefined.Description);
        List<object?> items = target switch
        {
            List<object?> list => list,
            string s => Characters(s).Cast<object?>().ToList(),
            _ => throw new RenderError($"'{PyValue.TypeName(target)}' object cannot be sliced"),
        };
        long stepValue = step is null ? 1 : SliceBound(step, "step");
        if (stepValue == 0)
            throw new RenderError("slice step cannot be zero");
        int count = items.Count;
        long lower;
        long upper;
        if (stepValue > 0)
        {
            lower = start is null ? 0 : Clamp(SliceBound(start, "start"), count, 0, count);
            upper = stop is null ? count : Clamp(SliceBound(stop, "stop"), count, 0, count);
        }
        else
        {
            lower = start is null ? count - 1 : Clamp(SliceBound(start, "start"), count, -1, count - 1);
            upper = stop is null ? -1 : Clamp(SliceBound(stop, "stop"), count, -1, count - 1);
        }
        var result = new List<object?>();
        for (long i = lower; stepValue > 0 ? i < upper : i > upper; i += stepValue)
            result.Add(items[(int)i]);
        return target is string ? string.Concat(result.Cast<string>()) : result;

        static long Clamp(long value, int count, long min, long max)
        {
            if (value < 0)
                value += count;
            return Math.Clamp(value, min, max);
        }
    }

    private static long SliceBound(object? value, string what) => value switch
    {
        null => throw new InvalidOperationException("unreachable"),
        long or bool => PyValue.ToLong(value),
        _ => throw new RenderError($"slice {what} must be an integer, not '{PyValue.TypeName(value)}'"),
    };

    public static object? Negate(string op, object? operand)
    {
        if (operand is Undefined undefined)
            throw new RenderError(undefined.Description);
        return (op, operand) switch
        {
            ("-", long l) => -l,
            ("-", bool b) => b ? -1L : 0L,
            ("-", double d) => -d,
            ("+", long or double) => operand,
            ("+", bool b) => b ? 1L : 0L,
            _ => throw new RenderError($"bad operand type for unary {op}: '{PyValue.TypeName(operand)}'"),
        };
    }

    public static object? Arithmetic(string op, object? left, object? right)
    {
        if (op == "~")
            return PyValue.Str(left) + PyValue.Str(right);
        if (left is Undefined undefinedLeft)
            throw new RenderError(undefinedLeft.Description);
        if (right is Undefined undefinedRight)
            throw new RenderError(undefinedRight.Description);

        if (PyValue.IsNumber(left) && PyValue.IsNumber(right))
            return NumberArithmetic(op, left, right);
        switch (op, left, right)
        {
            case ("+", string a, string b):
                return a + b;
            case ("+", List<object?> a, List<object?> b):
                return a.Concat(b).ToList();
            case ("*", string s, long or bool):
                return string.Concat(Enumerable.Repeat(s, RepeatCount(s.Length, right)));
            case ("*", long or bool, string s):
                return string.Concat(Enumerable.Repeat(s, RepeatCount(s.Length, left)));
            case ("*", List<object?> list, long or bool):
                return Enumerable.Repeat(list, RepeatCount(list.Count, right)).SelectMany(item => item).ToList();
            case ("%", string, _):
                throw new RenderError("string formatting with '%' is not supported");
        }
        throw new RenderError(
            $"unsupported operand type(s) for {op}: '{PyValue.TypeName(left)}' and '{PyValue.TypeName(right)}'");
    }

    private const long MaxRepeatedLength = 10_000_000;

    private static int RepeatCount(int length, object? times)
    {
        long count = Math.Max(0, PyValue.ToLong(times));
        if (count * Math.Max(length, 1) > MaxRepeatedLength)
            throw new RenderError($"repeating a sequence to more than {MaxRepeatedLength} items is not supported");
        return (int)count;
    }

    private static object NumberArithmetic(string op, object? left, object? right)
    {
        bool floating = left is double || right is double;
        if (op == "/")
        {
            double divisor = PyValue.ToDouble(right);
            if (divisor == 0)
                throw new RenderError("division by zero");
            return PyValue.ToDouble(left) / divisor;
        }
        if (floating || op == "**" && PyValue.ToLong(right) < 0)
        {
            double a = PyValue.ToDouble(left);
            double b = PyValue.ToDouble(right);
            if (op is "//" or "%" && b == 0)
                throw new RenderError("division by zero");
            return op switch
            {
                "+" => a + b,
                "-" => a - b,
                "*" => a * b,
                "//" => Math.Floor(a / b),
                "%" => a - (b * Math.Floor(a / b)),
                "**" => Math.Pow(a, b),
                _ => throw new RenderError($"unknown operator {op}"),
            };
        }
        long x = PyValue.ToLong(left);
        long y = PyValue.ToLong(right);
        if (op is "//" or "%" && y == 0)
            throw new RenderError("division by zero");
        try
        {
            return op switch
            {
                "+" => checked(x + y),
                "-" => checked(x - y),
                "*" => checked(x * y),
                "//" => FloorDivide(x, y),
                "%" => x - (y * FloorDivide(x, y)),
                "**" => Power(x, y),
                _ => throw new RenderError($"unknown operator {op}"),
            };
        }
        catch (OverflowException)
        {
            throw new RenderError($"integer overflow in {x} {op} {y} (Python's integers are unbounded, these are 64-bit)");
        }

        static long FloorDivide(long a, long b)
        {
            long quotient = a / b;
            return (a % b != 0) && ((a < 0) != (b < 0)) ? quotient - 1 : quotient;
        }

        static long Power(long value, long exponent)
        {
            long result = 1;
            while (exponent > 0)
            {
                if ((exponent & 1) != 0)
                    result = checked(result * value);
                exponent >>= 1;
                if (exponent > 0)
                    value = checked(value * value);
            }
            return result;
        }
    }

    public static bool Compare(string op, object? left, object? right)
    {
        switch (op)
        {
            case "==":
                return PyValue.Equals(left, right);
            case "!=":
                return !PyValue.Equals(left, right);
            case "in":
                return Contains(right, left);
            case "not in":
                return !Contains(right, left);
        }
        int order;
        if (PyValue.IsNumber(left) && PyValue.IsNumber(right))
            order = PyValue.ToDouble(left).CompareTo(PyValue.ToDouble(right));
        else if (left is string a && right is string b)
            order = string.CompareOrdinal(a, b);
        else
            throw new RenderError($"'{op}' not supported between '{PyValue.TypeName(left)}' and '{PyValue.TypeName(right)}'");
        return op switch
        {
            "<" => order < 0,
            ">" => order > 0,
            "<=" => order <= 0,
            ">=" => order >= 0,
            _ => throw new RenderError($"unknown comparison {op}"),
        };
    }

    private static bool Contains(object? container, object? item) => container switch
    {
        string s when item is string part => s.Contains(part, StringComparison.Ordinal),
        string => throw new RenderError($"'in <string>' requires a string on the left, not '{PyValue.TypeName(item)}'"),
        List<object?> list => list.Any(element => PyValue.Equals(element, item)),
        Dictionary<string, object?> dict => item is string key && dict.ContainsKey(key),
        Namespace ns => item is string key && ns.Attributes.ContainsKey(key),
        Undefined => false,
        _ => throw new RenderError($"argument of type '{PyValue.TypeName(container)}' is not iterable"),
    };

    public static bool ApplyTest(string name, object? value, List<object?> args)
    {
        object? Argument()
        {
            if (args.Count != 1)
                throw new RenderError($"test '{name}' takes one argument");
            return args[0];
        }

        return name switch
        {
            "defined" => value is not Undefined,
            "undefined" => value is Undefined,
            "none" => value is null,
            "string" => value is string,
            "number" => value is long or double or bool,
            "integer" => value is long,
            "float" => value is double,
            "boolean" => value is bool,
            "true" => value is true,
            "false" => value is false,
            "mapping" => value is Dictionary<string, object?>,
            "iterable" => value is List<object?> or Dictionary<string, object?> or string or Undefined,
            "sequence" => value is List<object?> or Dictionary<string, object?> or string,
            "even" => value is long or bool && PyValue.ToLong(value) % 2 == 0,
            "odd" => value is long or bool && PyValue.ToLong(value) % 2 != 0,
            "divisibleby" => PyValue.IsNumber(value) && PyValue.IsNumber(Argument())
                && PyValue.ToLong(Argument()) != 0 && PyValue.ToLong(value) % PyValue.ToLong(Argument()) == 0,
            "eq" or "equalto" or "==" => PyValue.Equals(value, Argument()),
            "ne" or "!=" => !PyValue.Equals(value, Argument()),
            "lt" or "<" => Compare("<", value, Argument()),
            "le" or "<=" => Compare("<=", value, Argument()),
            "gt" or ">" => Compare(">", value, Argument()),
            "ge" or ">=" => Compare(">=", value, Argument()),
            "in" => Contains(Argument(), value),
            "sameas" => ReferenceEquals(value, Argument()) || (value is null && Argument() is null)
                || (value is bool a && Argument() is bool b && a == b),
            "lower" => value is string lower && lower == lower.ToLowerInvariant(),
            "upper" => value is string upper && upper == upper.ToUpperInvariant(),
            _ => throw new RenderError($"test '{name}' is not supported"),
        };
    }

    public static object? ApplyFilter(string name, object? value, List<object?> args, Dictionary<string, object?> kwargs)
    {
        object? Arg(int index, string keyword, object? fallback) =>
            index < args.Count ? args[index] : kwargs.TryGetValue(keyword, out object? named) ? named : fallback;

        switch (name)
        {
            case "trim":
                return Strip(PyValue.Str(value), Arg(0, "chars", null), left: true, right: true);
            case "length" or "count":
                return value switch
                {
                    string s => (long)s.EnumerateRunes().Count(),
                    List<object?> list => (long)list.Count,
                    Dictionary<string, object?> dict => (long)dict.Count,
                    Undefined => 0L,
                    _ => throw new RenderError($"object of type '{PyValue.TypeName(value)}' has no length"),
                };
            case "string":
                return PyValue.Str(value);
            case "lower":
                return PyValue.Str(value).ToLowerInvariant();
            case "upper":
                return PyValue.Str(value).ToUpperInvariant();
            case "capitalize":
                return Capitalize(PyValue.Str(value));
            case "title":
                return TitleFilter(PyValue.Str(value));
            case "first":
                List<object?> forFirst = Iterate(value);
                return forFirst.Count > 0 ? forFirst[0] : new Undefined("no first item of an empty sequence");
            case "last":
                List<object?> forLast = Iterate(value);
                return forLast.Count > 0 ? forLast[^1] : new Undefined("no last item of an empty sequence");
            case "join":
                string separator = PyValue.Str(Arg(0, "d", ""));
                IEnumerable<object?> parts = Iterate(value);
                if (Arg(1, "attribute", null) is string joinAttribute)
                    parts = parts.Select(part => GetAttribute(part, joinAttribute));
                return string.Join(separator, parts.Select(PyValue.Str));
            case "default" or "d":
                bool boolean = PyValue.IsTrue(Arg(1, "boolean", false));
                return value is Undefined || (boolean && !PyValue.IsTrue(value)) ? Arg(0, "default_value", "") : value;
            case "list":
                return new List<object?>(Iterate(value));
            case "tojson":
                // transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
                if (kwargs.Keys.FirstOrDefault(key => key is not ("ensure_ascii" or "indent" or "separators" or "sort_keys")) is { } unknown)
                    throw new RenderError($"tojson has no argument '{unknown}'");
                if (PyValue.IsTrue(Arg(0, "ensure_ascii", false)))
                    throw new RenderError("tojson(ensure_ascii=true) is not supported");
                object? indent = Arg(1, "indent", null);
                if (indent is not (null or long))
                    throw new RenderError("tojson's indent must be an integer");
                (string, string)? separators = Arg(2, "separators", null) switch
                {
                    null => null,
                    List<object?> { Count: 2 } pair when pair[0] is string item && pair[1] is string key => (item, key),
                    _ => throw new RenderError("tojson's separators must be a pair of strings"),
                };
                return Json.Serialize(value, indent is long width ? (int)width : null, separators, PyValue.IsTrue(Arg(3, "sort_keys", false)));
            case "replace":
                string text = PyValue.Str(value);
                string old = PyValue.Str(Arg(0, "old", ""));
                string replacement = PyValue.Str(Arg(1, "new", ""));
                return Replace(text, old, replacement, Arg(2, "count", null) is long limit ? limit : -1);
            case "int":
                return ToInt(value, Arg(0, "default", 0L));
            case "float":
                return ToFloat(value, Arg(0, "default", 0.0));
            case "abs":
                return value switch
                {
                    long l => (object)Math.Abs(l),
                    double d => Math.Abs(d),
                    bool b => b ? 1L : 0L,
                    _ => throw new RenderError($"bad operand type for abs(): '{PyValue.TypeName(value)}'"),
                };
            case "items":
                if (value is Undefined)
                    return new List<object?>();
                if (value is not Dictionary<string, object?> mapping)
                    throw new RenderError($"the items filter needs a mapping, not '{PyValue.TypeName(value)}'");
                return mapping.Select(pair => (object?)new List<object?> { pair.Key, pair.Value }).ToList();
            case "reverse":
                if (value is string forward)
                    return string.Concat(Characters(forward).AsEnumerable().Reverse());
                List<object?> reversed = new(Iterate(value));
                reversed.Reverse();
                return reversed;
            case "safe":
                return value;
            case "selectattr" or "rejectattr":
                if (args.Count < 1 || args[0] is not string selectAttribute)
                    throw new RenderError($"{name} needs an attribute name");
                bool select = name == "selectattr";
                return Iterate(value).Where(item =>
                {
                    object? attributeValue = GetAttribute(item, selectAttribute);
                    bool passed = args.Count < 2
                        ? PyValue.IsTrue(attributeValue)
                        : ApplyTest(PyValue.Str(args[1]), attributeValue, args.Skip(2).ToList());
                    return passed == select;
                }).ToList();
            case "map":
                if (kwargs.TryGetValue("attribute", out object? mapAttribute) && mapAttribute is string attributeName)
                {
                    return Iterate(value).Select(item =>
                    {
                        object? mapped = GetAttribute(item, attributeName);
                        return mapped is Undefined && kwargs.TryGetValue("default", out object? fallback) ? fallback : mapped;
                    }).ToList();
                }
                if (args.Count >= 1 && args[0] is string filterName && Filters.Contains(filterName) && filterName != "map")
                {
                    List<object?> rest = args.Skip(1).ToList();
                    return Iterate(value).Select(item => ApplyFilter(filterName, item, rest, [])).ToList();
                }
                throw new RenderError("map needs attribute='name' or the name of a supported filter");
            default:
                throw new RenderError($"filter '{name}' is not supported");
        }
    }

    public static object? CallMethod(object? target, string name, List<object?> args, Dictionary<string, object?> kwargs)
    {
        object? Arg(int index, string keyword, object? fallback) =>
            index < args.Count ? args[index] : kwargs.TryGetValue(keyword, out object? named) ? named : fallback;

        switch (target)
        {
            case Undefined undefined:
                throw new RenderError(undefined.Description);
            case string s:
                switch (name)
                {
                    case "strip": return Strip(s, Arg(0, "chars", null), left: true, right: true);
                    case "lstrip": return Strip(s, Arg(0, "chars", null), left: true, right: false);
                    case "rstrip": return Strip(s, Arg(0, "chars", null), left: false, right: true);
                    case "startswith": return Affixes(Arg(0, "prefix", null)).Any(prefix => s.StartsWith(prefix, StringComparison.Ordinal));
                    case "endswith": return Affixes(Arg(0, "suffix", null)).Any(suffix => s.EndsWith(suffix, StringComparison.Ordinal));
                    case "split": return Split(s, Arg(0, "sep", null), Arg(1, "maxsplit", -1L));
                    case "lower": return s.ToLowerInvariant();
                    case "upper": return s.ToUpperInvariant();
                    case "title": return Title(s);
                    case "capitalize": return Capitalize(s);
                    case "replace":
                        return Replace(s, PyValue.Str(Arg(0, "old", "")), PyValue.Str(Arg(1, "new", "")), Arg(2, "count", -1L) is long n ? n : -1);
                    case "find": return (long)s.IndexOf(RequireString(Arg(0, "sub", null), "find"), StringComparison.Ordinal);
                    case "count": return (long)CountOccurrences(s, RequireString(Arg(0, "sub", null), "count"));
                    case "join": return string.Join(s, Iterate(Arg(0, "iterable", null)).Select(PyValue.Str));
                }
                break;
            case Dictionary<string, object?> dict:
                switch (name)
                {
                    case "items": return dict.Select(pair => (object?)new List<object?> { pair.Key, pair.Value }).ToList();
                    case "keys": return dict.Keys.Cast<object?>().ToList();
                    case "values": return dict.Values.ToList();
                    case "get":
                        return Arg(0, "key", null) is string key && dict.TryGetValue(key, out object? found) ? found : Arg(1, "default", null);
                }
                break;
            case LoopContext loop when name == "cycle":
                if (args.Count == 0)
                    throw new RenderError("loop.cycle() needs at least one value");
                return args[loop.Index0 % args.Count];
        }
        throw new RenderError($"'{PyValue.TypeName(target)}' object has no method '{name}'");
    }

    private static string RequireString(object? value, string method) =>
        value as string ?? throw new RenderError($"{method}() needs a string argument, not '{PyValue.TypeName(value)}'");

    private static IEnumerable<string> Affixes(object? value) => value switch
    {
        string s => [s],
        List<object?> list when list.All(item => item is string) => list.Cast<string>(),
        _ => throw new RenderError($"startswith/endswith need a string or a list of strings, not '{PyValue.TypeName(value)}'"),
    };

    private static string Strip(string s, object? chars, bool left, bool right)
    {
        Func<char, bool> strip = chars switch
        {
            null => char.IsWhiteSpace,
            string set => set.Contains,
            _ => throw new RenderError($"strip characters must be a string, not '{PyValue.TypeName(chars)}'"),
        };
        int start = 0;
        int end = s.Length;
        if (left)
        {
            while (start < end && strip(s[start]))
                start++;
        }
        if (right)
        {
            while (end > start && strip(s[end - 1]))
                end--;
        }
        return s[start..end];
    }

    private static List<object?> Split(string s, object? separator, object? maxSplit)
    {
        long limit = maxSplit is long l ? l : -1;
        var parts = new List<object?>();
        if (separator is null)
        {
            // Python's split(): runs of whitespace separate, and leading or trailing whitespace gives no empty part.
            int i = 0;
            while (true)
            {
                while (i < s.Length && char.IsWhiteSpace(s[i]))
                    i++;
                if (i >= s.Length)
                    break;
                if (limit >= 0 && parts.Count == limit)
                {
                    parts.Add(s[i..].TrimEnd());
                    break;
                }
                int start = i;
                while (i < s.Length && !char.IsWhiteSpace(s[i]))
                    i++;
                parts.Add(s[start..i]);
            }
            return parts;
        }
        if (separator is not string sep)
            throw new RenderError($"split() separator must be a string, not '{PyValue.TypeName(separator)}'");
        if (sep.Length == 0)
            throw new RenderError("split() separator must not be empty");
        int position = 0;
        while (limit < 0 || parts.Count < limit)
        {
            int next = s.IndexOf(sep, position, StringComparison.Ordinal);
            if (next < 0)
                break;
            parts.Add(s[position..next]);
            position = next + sep.Length;
        }
        parts.Add(s[position..]);
        return parts;
    }

    private static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0)
            return old.Length == 0 ? ReplaceEmpty(s, replacement, long.MaxValue) : s.Replace(old, replacement, StringComparison.Ordinal);
        if (old.Length == 0)
            return ReplaceEmpty(s, replacement, count);
        var builder = new StringBuilder();
        int position = 0;
        for (long done = 0; done < count; done++)
        {
            int next = s.IndexOf(old, position, StringComparison.Ordinal);
            if (next < 0)
                break;
            builder.Append(s, position, next - position).Append(replacement);
            position = next + old.Length;
        }
        return builder.Append(s, position, s.Length - position).ToString();
    }

    // Python's "ab".replace("", "-") is "-a-b-".
    private static string ReplaceEmpty(string s, string replacement, long count)
    {
        var builder = new StringBuilder();
        long done = 0;
        foreach (string character in Characters(s))
        {
            if (done++ < count)
                builder.Append(replacement);
            builder.Append(character);
        }
        if (done < count)
            builder.Append(replacement);
        return builder.ToString();
    }

    private static int CountOccurrences(string s, string part)
    {
        if (part.Length == 0)
            return Characters(s).Count + 1;
        int count = 0;
        for (int i = s.IndexOf(part, StringComparison.Ordinal); i >= 0; i = s.IndexOf(part, i + part.Length, StringComparison.Ordinal))
            count++;
        return count;
    }

    private static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    private static string Title(string s)
    {
        var builder = new StringBuilder(s.Length);
        bool previousIsLetter = false;
        foreach (char c in s)
        {
            builder.Append(previousIsLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousIsLetter = char.IsLetter(c);
        }
        return builder.ToString();
    }

    // Jinja's title filter (unlike str.title) starts words only after whitespace, '-', and opening brackets.
    private static string TitleFilter(string s)
    {
        var builder = new StringBuilder(s.Length);
        bool wordStart = true;
        foreach (char c in s)
        {
            bool separator = char.IsWhiteSpace(c) || c is '-' or '(' or '{' or '[' or '<';
            builder.Append(separator ? c : wordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            wordStart = separator;
        }
        return builder.ToString();
    }

    private static object? ToInt(object? value, object? fallback) => value switch
    {
        long l => l,
        bool b => b ? 1L : 0L,
        double d => (long)Math.Truncate(d),
        string s when long.TryParse(s.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long parsed) => parsed,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed) => (long)Math.Truncate(parsed),
        _ => fallback,
    };

    private static object? ToFloat(object? value, object? fallback) => value switch
    {
        long l => (double)l,
        bool b => b ? 1.0 : 0.0,
        double d => d,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed) => parsed,
        _ => fallback,
    };
}
