using System.Globalization;

namespace MoeRuntime.Wire.Benchmarks;

/// <summary>--name value options; every value is checked where it is read.</summary>
sealed class Arguments(string[] args)
{
    public string? Value(string name)
    {
        for (int i = 0; i < args.Length - 1; i++)
            if (args[i] == name) return args[i + 1];
        return null;
    }

    public IEnumerable<string> Values(string name)
    {
        for (int i = 0; i < args.Length - 1; i++)
            if (args[i] == name) yield return args[i + 1];
    }

    public int Int(string name, int fallback, int min, int max)
    {
        string? text = Value(name);
        if (text is null) return fallback;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            throw new ArgumentException($"{name} must be an integer from {min} to {max}, was '{text}'");
        return value;
    }

    public double Double(string name, double fallback, double min, double max)
    {
        string? text = Value(name);
        if (text is null) return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || value < min || value > max)
            throw new ArgumentException($"{name} must be a number from {min} to {max}, was '{text}'");
        return value;
    }
}
