using System.Globalization;
using System.Text;

namespace MoeRuntime.Model.Chat;

/// <summary>
/// Jinja's default Undefined: what a missing variable, key or attribute evaluates to. It prints as nothing, is
/// false, iterates as empty and has length 0; using it any other way (an attribute of it, arithmetic) is an error
/// naming what was missing.
/// </summary>
internal sealed class Undefined(string description)
{
    public string Description { get; } = description;
}

/// <summary>
/// A method of a string or dict named without calling it (<c>text.strip</c>): defined and true, as the bound method
/// Jinja would return. Calls (<c>text.strip()</c>) are evaluated directly and never make one.
/// </summary>
internal sealed class BoundMethod(string typeName, string name)
{
    public override string ToString() => $"<built-in method {name} of {typeName} object>";
}

/// <summary>The object <c>namespace(...)</c> returns: attributes assignable with <c>{% set ns.x = ... %}</c>.</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>The <c>loop</c> variable inside a for loop.</summary>
internal sealed class LoopContext(IReadOnlyList<object?> items)
{
    public IReadOnlyList<object?> Items { get; } = items;

    public int Index0 { get; set; }

    public object? Attribute(string name) => name switch
    {
        "index0" => (long)Index0,
        "index" => (long)Index0 + 1,
        "revindex0" => (long)(Items.Count - Index0 - 1),
        "revindex" => (long)(Items.Count - Index0),
        "first" => Index0 == 0,
        "last" => Index0 == Items.Count - 1,
        "length" => (long)Items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? Items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 < Items.Count - 1 ? Items[Index0 + 1] : new Undefined("there is no next item"),
        _ => new Undefined($"'loop' has no attribute '{name}'"),
    };
}

/// <summary>Python semantics of the values a template handles: str(), repr(), truth, equality, type names.</summary>
internal static class PyValue
{
    public static bool IsTrue(object? value) => value switch
    {
        null => false,
        Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        Dictionary<string, object?> dict => dict.Count > 0,
        _ => true,
    };

    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        Dictionary<string, object?> => "dict",
        Namespace => "Namespace",
        LoopContext => "LoopContext",
        _ => value.GetType().Name,
    };

    /// <summary>Python's str(): what <c>{{ value }}</c> prints (Undefined prints as nothing).</summary>
    public static string Str(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        _ => Repr(value),
    };

    public static string Repr(object? value)
    {
        var builder = new StringBuilder();
        AppendRepr(builder, value);
        return builder.ToString();
    }

    private static void AppendRepr(StringBuilder builder, object? value)
    {
        switch (value)
        {
            case null:
                builder.Append("None");
                break;
            case Undefined:
                break;
            case bool b:
                builder.Append(b ? "True" : "False");
                break;
            case long l:
                builder.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                builder.Append(FormatFloat(d));
                break;
            case string s:
                AppendStringRepr(builder, s);
                break;
            case List<object?> list:
                builder.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0)
                        builder.Append(", ");
                    AppendRepr(builder, list[i]);
                }
                builder.Append(']');
                break;
            case Dictionary<string, object?> dict:
                builder.Append('{');
                bool first = true;
                foreach ((string key, object? item) in dict)
                {
                    if (!first)
                        builder.Append(", ");
                    first = false;
                    AppendStringRepr(builder, key);
                    builder.Append(": ");
                    AppendRepr(builder, item);
                }
                builder.Append('}');
                break;
            case Namespace:
                builder.Append("<Namespace>");
                break;
            default:
                builder.Append(value.ToString());
                break;
        }
    }

    /// <summary>Python's repr of a float: shortest round-trip digits, exponent form below 1e-4 and from 1e16.</summary>
    public static string FormatFloat(double value)
    {
        if (double.IsNaN(value))
            return "nan";
        if (double.IsInfinity(value))
            return value > 0 ? "inf" : "-inf";
        string sign = value < 0 || (value == 0 && double.IsNegative(value)) ? "-" : "";
        if (value == 0)
            return sign + "0.0";

        // Shortest round-trip digits d1d2...dn and the decimal exponent of d1.
        string text = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        int e = text.IndexOfAny(['E', 'e']);
        int exponent = e < 0 ? 0 : int.Parse(text[(e + 1)..], CultureInfo.InvariantCulture);
        string mantissa = e < 0 ? text : text[..e];
        int dot = mantissa.IndexOf('.', StringComparison.Ordinal);
        string integerPart = dot < 0 ? mantissa : mantissa[..dot];
        string allDigits = integerPart + (dot < 0 ? "" : mantissa[(dot + 1)..]);
        string trimmed = allDigits.TrimStart('0');
        int pointPosition = integerPart.Length + exponent - (allDigits.Length - trimmed.Length);
        string digits = trimmed.TrimEnd('0');
        int scientific = pointPosition - 1;

        if (scientific is >= -4 and < 16)
        {
            if (pointPosition <= 0)
                return sign + "0." + new string('0', -pointPosition) + digits;
            if (pointPosition >= digits.Length)
                return sign + digits + new string('0', pointPosition - digits.Length) + ".0";
            return sign + digits[..pointPosition] + "." + digits[pointPosition..];
        }
        string fraction = digits.Length > 1 ? "." + digits[1..] : "";
        return $"{sign}{digits[0]}{fraction}e{(scientific < 0 ? "-" : "+")}{Math.Abs(scientific):00}";
    }

    private static void AppendStringRepr(StringBuilder builder, string s)
    {
        char quote = s.Contains('\'', StringComparison.Ordinal) && !s.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        builder.Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (c == quote)
                        builder.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f)
                        builder.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
                    else
                        builder.Append(c);
                    break;
            }
        }
        builder.Append(quote);
    }

    public static new bool Equals(object? left, object? right)
    {
        if (left is Undefined || right is Undefined)
            return left is Undefined && right is Undefined;
        if (IsNumber(left) && IsNumber(right))
        {
            if (left is double || right is double)
                return ToDouble(left) == ToDouble(right);
            return ToLong(left) == ToLong(right);
        }
        return (left, right) switch
        {
            (null, null) => true,
            (string a, string b) => string.Equals(a, b, StringComparison.Ordinal),
            (List<object?> a, List<object?> b) => a.Count == b.Count && a.Zip(b).All(pair => Equals(pair.First, pair.Second)),
            (Dictionary<string, object?> a, Dictionary<string, object?> b) =>
                a.Count == b.Count && a.All(pair => b.TryGetValue(pair.Key, out object? other) && Equals(pair.Value, other)),
            _ => ReferenceEquals(left, right),
        };
    }

    /// <summary>Python's bool is an int: True + 1 == 2.</summary>
    public static bool IsNumber(object? value) => value is long or double or bool;

    public static long ToLong(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d => (long)d,
        _ => throw new InvalidOperationException($"not a number: {TypeName(value)}"),
    };

    public static double ToDouble(object? value) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d => d,
        _ => throw new InvalidOperationException($"not a number: {TypeName(value)}"),
    };
}
