using System.Globalization;
using System.Text;

namespace MoeRuntime.Model.Chat;

/// <summary>
/// The <c>tojson</c> filter as transformers defines it: Python's <c>json.dumps(value, ensure_ascii=False)</c>, so
/// <c>", "</c> and <c>": "</c> separators on one line, or an indented layout when <c>indent</c> is given.
/// </summary>
internal static class Json
{
    public static string Serialize(object? value, int? indent, (string Item, string Key)? separators = null, bool sortKeys = false)
    {
        var builder = new StringBuilder();
        // Python's defaults: (", ", ": ") on one line, ("," , ": ") when indented.
        var options = new Options(indent, separators ?? (indent is null ? (", ", ": ") : (",", ": ")), sortKeys);
        Write(builder, value, options, 0);
        return builder.ToString();
    }

    private sealed record Options(int? Indent, (string Item, string Key) Separators, bool SortKeys);

    private static void Write(StringBuilder builder, object? value, Options options, int depth)
    {
        switch (value)
        {
            case null:
                builder.Append("null");
                break;
            case Undefined undefined:
                throw new RenderError($"tojson: {undefined.Description}");
            case bool b:
                builder.Append(b ? "true" : "false");
                break;
            case long l:
                builder.Append(l.ToString(CultureInfo.InvariantCulture));
                break;
            case double d:
                builder.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : PyValue.FormatFloat(d));
                break;
            case string s:
                WriteString(builder, s);
                break;
            case List<object?> list:
                WriteContainer(builder, '[', ']', list.Count, options, depth, (i) => Write(builder, list[i], options, depth + 1));
                break;
            case Dictionary<string, object?> dict:
                List<KeyValuePair<string, object?>> pairs = [.. dict];
                if (options.SortKeys)
                    pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
                WriteContainer(builder, '{', '}', pairs.Count, options, depth, (i) =>
                {
                    WriteString(builder, pairs[i].Key);
                    builder.Append(options.Separators.Key);
                    Write(builder, pairs[i].Value, options, depth + 1);
                });
                break;
            case Namespace ns:
                Write(builder, ns.Attributes, options, depth);
                break;
            default:
                throw new RenderError($"tojson: object of type '{PyValue.TypeName(value)}' is not JSON serializable");
        }
    }

    private static void WriteContainer(StringBuilder builder, char open, char close, int count, Options options, int depth, Action<int> writeItem)
    {
        int? indent = options.Indent;
        builder.Append(open);
        if (count == 0)
        {
            builder.Append(close);
            return;
        }
        for (int i = 0; i < count; i++)
        {
            if (i > 0)
                builder.Append(options.Separators.Item);
            if (indent is int width)
                builder.Append('\n').Append(' ', width * (depth + 1));
            writeItem(i);
        }
        if (indent is int closing)
            builder.Append('\n').Append(' ', closing * depth);
        builder.Append(close);
    }

    private static void WriteString(StringBuilder builder, string s)
    {
        builder.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                default:
                    if (c < 0x20)
                        builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    else
                        builder.Append(c);
                    break;
            }
        }
        builder.Append('"');
    }
}
