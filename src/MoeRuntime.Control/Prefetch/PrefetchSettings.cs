namespace MoeRuntime.Control.Prefetch;

/// <summary>
/// How ranks prefetch: once layer L is gated, experts of layers L+1..L+<see cref="Lookahead"/> whose predicted
/// probability reaches that layer's threshold are warmed ahead.
/// </summary>
/// <param name="Thresholds">Confidence threshold per layer, indexed by layer.</param>
public sealed record PrefetchSettings(int Lookahead, IReadOnlyList<double> Thresholds);
