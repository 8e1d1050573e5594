using Microsoft.Extensions.Options;

namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// What is wrong with one options section, each failure naming its full configuration key (<c>Moe:Control:Interval</c>)
/// and the value it had, so the one line the silo prints on a mistake says which setting to fix.
/// </summary>
sealed class OptionChecks(string section)
{
    readonly List<string> _failures = [];

    /// <summary>The full key of <paramref name="name"/> in this section (the top level when the section is empty).</summary>
    public string Key(string name) => section.Length == 0 ? name : $"{section}:{name}";

    public void Fail(string name, string what) => _failures.Add($"{Key(name)} {what}");

    public void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero) Fail(name, $"must be positive, was {value}");
    }

    /// <summary>Positive and short enough for a timer or a cancellation (at most about 24 days).</summary>
    public void Timeout(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue) Fail(name, $"must be positive and at most {TimeSpan.FromMilliseconds(int.MaxValue)}, was {value}");
    }

    public void NotNegative(TimeSpan value, string name)
    {
        if (value < TimeSpan.Zero) Fail(name, $"must not be negative, was {value}");
    }

    public void AtLeast(long value, long least, string name)
    {
        if (value < least) Fail(name, $"must be at least {least}, was {value}");
    }

    public void Between(long value, long least, long most, string name)
    {
        if (value < least || value > most) Fail(name, $"must be between {least} and {most}, was {value}");
    }

    /// <summary>A finite number of at least <paramref name="least"/>.</summary>
    public void AtLeast(double value, double least, string name)
    {
        if (!(value >= least) || double.IsInfinity(value)) Fail(name, $"must be a finite number of at least {least}, was {value}");
    }

    /// <summary>A finite number above zero.</summary>
    public void Positive(double value, string name)
    {
        if (!(value > 0) || double.IsInfinity(value)) Fail(name, $"must be a finite number above 0, was {value}");
    }

    /// <summary>A share in [0, 1], or (0, 1] when zero means nothing would ever happen.</summary>
    public void Share(double value, string name, bool allowZero = true)
    {
        if (!((allowZero ? value >= 0 : value > 0) && value <= 1)) Fail(name, $"must be a share {(allowZero ? "[0" : "(0")}, 1], was {value}");
    }

    public void NotBlank(string? value, string name)
    {
        if (string.IsNullOrWhiteSpace(value)) Fail(name, "must not be empty");
    }

    public void Defined<TEnum>(TEnum value, string name) where TEnum : struct, Enum
    {
        if (!Enum.IsDefined(value)) Fail(name, $"must be one of {string.Join(", ", Enum.GetNames<TEnum>())}, was '{value}'");
    }

    /// <summary>
    /// Runs a library record's own check; its message names the record's property (<c>GuardrailOptions.HysteresisRatio</c>),
    /// which becomes the key operators set (<c>Moe:Control:HysteresisRatio</c>) by <paramref name="keys"/>, replaced in order.
    /// </summary>
    public void Library(Action validate, params (string From, string To)[] keys)
    {
        try
        {
            validate();
        }
        catch (ArgumentException e)
        {
            string message = e.Message;
            // ArgumentException appends " (Parameter 'x')"; the key already names it.
            if (e.ParamName is { } parameter) message = message.Replace($" (Parameter '{parameter}')", "", StringComparison.Ordinal);
            foreach (var (from, to) in keys) message = message.Replace(from, to, StringComparison.Ordinal);
            _failures.Add(message);
        }
    }

    /// <summary>Takes the failures of a subsection's checks.</summary>
    public void Merge(OptionChecks other) => _failures.AddRange(other._failures);

    public ValidateOptionsResult Result => _failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(_failures.Distinct());
}
