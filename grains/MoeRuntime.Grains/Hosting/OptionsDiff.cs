using System.Collections;
using System.Globalization;
using System.Reflection;

namespace MoeRuntime.Grains.Hosting;

/// <summary>One setting that differs between two bindings of an options class: its full key and both values as text.</summary>
public sealed record OptionChange(string Key, string Old, string New)
{
    public override string ToString() => $"{Key} {Old} → {New}";
}

/// <summary>
/// The settings that differ between two bindings of the same options class, named by the key an operator sets
/// (<c>Moe:Control:Latency:TargetP95InterTokenSeconds</c>). Public properties are walked recursively: classes and records
/// by property, lists by index (<c>Moe:Limits:StopTokenIds:0</c>), everything else compared as invariant text. Keys that
/// hold secrets are compared but their values are shown as <c>(secret)</c>.
/// </summary>
public static class OptionsDiff
{
    const int MaxDepth = 8;

    /// <summary>The changed keys, in key order; empty when the bindings are equal.</summary>
    /// <param name="section">The section the class is bound from (<c>Moe</c>); the prefix of every key.</param>
    public static IReadOnlyList<OptionChange> Between<T>(string section, T old, T next) where T : class
    {
        ArgumentNullException.ThrowIfNull(old);
        ArgumentNullException.ThrowIfNull(next);
        var before = Flatten(section, old);
        var after = Flatten(section, next);
        var changes = new List<OptionChange>();
        foreach (string key in before.Keys.Union(after.Keys).Order(StringComparer.Ordinal))
        {
            string a = before.GetValueOrDefault(key, "(unset)"), b = after.GetValueOrDefault(key, "(unset)");
            if (a == b) continue;
            changes.Add(IsSecret(key) ? new OptionChange(key, "(secret)", "(secret)") : new OptionChange(key, a, b));
        }
        return changes;
    }

    /// <summary>Every leaf setting of <paramref name="options"/> by its full key.</summary>
    public static IReadOnlyDictionary<string, string> Flatten(string section, object options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var leaves = new Dictionary<string, string>(StringComparer.Ordinal);
        Walk(section, options, leaves, 0);
        return leaves;
    }

    /// <summary>Whether a key holds a secret (tokens, API and pseudonym keys, passwords): changes to it are recorded without values.</summary>
    public static bool IsSecret(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        string last = key.Split(':').LastOrDefault(part => !int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out _)) ?? key;
        return last is "Tokens" or "OperatorTokens" or "ApiKey" or "ApiKeys" or "PseudonymKey"
            || last.EndsWith("Password", StringComparison.Ordinal) || last.EndsWith("Secret", StringComparison.Ordinal);
    }

    static void Walk(string key, object? value, Dictionary<string, string> leaves, int depth)
    {
        if (value is null)
        {
            leaves[key] = "(null)";
            return;
        }
        Type type = value.GetType();
        if (IsLeaf(type) || depth >= MaxDepth)
        {
            leaves[key] = Text(value);
            return;
        }
        if (value is IEnumerable items)
        {
            int i = 0;
            foreach (object? item in items) Walk($"{key}:{i++}", item, leaves, depth + 1);
            if (i == 0) leaves[key] = "[]";
            return;
        }
        foreach (PropertyInfo property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            if (property.GetIndexParameters().Length > 0 || property.GetMethod is null) continue;
            Walk($"{key}:{property.Name}", property.GetValue(value), leaves, depth + 1);
        }
    }

    static bool IsLeaf(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan)
        || type == typeof(DateTimeOffset) || type == typeof(DateTime) || type == typeof(Guid) || typeof(Type).IsAssignableFrom(type)
        || (type.IsValueType && type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Length == 0);

    static string Text(object value) => value switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        TimeSpan t => t.ToString("c", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
