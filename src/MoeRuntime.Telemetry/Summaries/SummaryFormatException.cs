namespace MoeRuntime.Telemetry.Summaries;

/// <summary>
/// A summary's bytes were malformed, truncated, oversized, of an unknown schema version or outside
/// the codec's limits. The only exception <see cref="SummaryCodec.Decode"/> throws for bad input.
/// </summary>
public sealed class SummaryFormatException : Exception
{
    /// <summary>Creates the exception with a reason.</summary>
    public SummaryFormatException(string message) : base(message) { }

    /// <summary>Creates the exception with a reason and the reader's own error.</summary>
    public SummaryFormatException(string message, Exception inner) : base(message, inner) { }
}
