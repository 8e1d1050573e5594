namespace MoeRuntime.Model.Layers;

/// <summary>
/// Pre-gating: before a layer's experts are dispatched, the model runs the following layers' gates on the same MoE input
/// and tells this which experts they pick, so that a serving runtime can fetch them ahead. The model calls it; it never
/// changes what the step computes.
/// </summary>
public interface IExpertLookahead
{
    /// <summary>How many layers after <paramref name="layer"/> to predict, 0 for none; asked once per layer and step.</summary>
    int LayersAhead(int layer);

    /// <summary>The least gate weight a predicted choice of <paramref name="layer"/> needs to count; 0 counts every top-k choice.</summary>
    float Threshold(int layer);

    /// <summary>The distinct experts of <paramref name="layer"/>, ascending, that its gate picks with at least that weight.</summary>
    void Predicted(int layer, ReadOnlySpan<long> experts);

    /// <summary>
    /// What <paramref name="layer"/>'s gate then chose for the step (before its dispatch), so that predictions can be
    /// scored against it; called for every layer of a step the lookahead takes part in. Ignored by default.
    /// </summary>
    void Chosen(int layer, RoutingPlan plan)
    {
    }
}
