namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// <c>--prompt</c> and its sampling flags (top-level keys <c>Prompt</c>, <c>MaxTokens</c>, <c>Temperature</c>, <c>TopP</c>,
/// <c>Seed</c>): the silo sends that one request through its router once it is up, prints the answer and stops.
/// </summary>
public sealed class OneShotOptions
{
    /// <summary>Empty (the default): the silo serves until stopped.</summary>
    public string Prompt { get; set; } = "";
    public int MaxTokens { get; set; } = 64;
    public double Temperature { get; set; } = 0.8;
    public double TopP { get; set; } = 0.95;
    /// <summary>Null: a fresh seed per run.</summary>
    public ulong? Seed { get; set; }

    public bool Requested => !string.IsNullOrEmpty(Prompt);
}
