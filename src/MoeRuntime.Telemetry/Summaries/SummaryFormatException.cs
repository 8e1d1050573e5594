namespace MoeRuntime.Telemetry.Summaries;

/// <summary>
/// A summary's bytes were malformed, truncated, oversized, of an unknown schema version or outside
/// the codec's limits. The only exception <see cref="SummaryCodec.Decode"/> throws for bad input.
/// </summary>
public sealed class SummaryFormatException : Exception
{
    /// <summary>Creates the exception with a reason.</summary>
    public SummaryFormatException(string message, SummaryProblem problem = SummaryProblem.Malformed) : base(message) => Problem = problem;

    /// <summary>Creates the exception with a reason and the reader's own error.</summary>
    public SummaryFormatException(string message, Exception inner) : base(message, inner) { }

    /// <summary>What kind of wrong the bytes are, for the <c>reason</c> of <c>moe_telemetry_summaries_rejected_total</c>.</summary>
    public SummaryProblem Problem { get; }
}

/// <summary>Why a summary's bytes were refused.</summary>
public enum SummaryProblem
{
    /// <summary>Not a summary of this schema: truncated, wrongly shaped, or with values no rank reports.</summary>
    Malformed,
    /// <summary>Over one of the codec's limits: bytes, series, sketches, digests, matrix cells or string length.</summary>
    Oversized,
    /// <summary>A schema version this codec does not read.</summary>
    Version,
}
