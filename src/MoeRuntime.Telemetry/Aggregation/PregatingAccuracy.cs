namespace MoeRuntime.Telemetry.Aggregation;

/// <summary>
/// How well pre-gating predicted one layer's experts from <see cref="Lookahead"/> layers before it: expert slots (distinct
/// experts per step) the predictions named, the gate then chose, and both.
/// </summary>
public sealed record PregatingAccuracy(int Layer, int Lookahead, long Predicted, long Actual, long Hits)
{
    /// <summary>Hits over predicted slots: the share of prefetched experts the layer used; 0 when nothing was predicted.</summary>
    public double Precision => Predicted == 0 ? 0 : (double)Hits / Predicted;

    /// <summary>Hits over chosen slots: the share of the layer's experts that were prefetched; 0 when nothing was chosen.</summary>
    public double Recall => Actual == 0 ? 0 : (double)Hits / Actual;
}
