namespace MoeRuntime.Traces;

/// <summary>A routing trace (or an external trace being converted) that does not follow its format.</summary>
public sealed class RoutingTraceFormatException(string message, long line = 0) : FormatException(line > 0 ? $"line {line}: {message}" : message)
{
    /// <summary>1-based line of the offending input, 0 when not tied to a line.</summary>
    public long Line { get; } = line;
}
