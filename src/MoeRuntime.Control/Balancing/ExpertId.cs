namespace MoeRuntime.Control.Balancing;

/// <summary>
/// One routed expert of the model being balanced: layer and index. The balancer works on one model at a
/// time, so the model name stays with the caller.
/// </summary>
public readonly record struct ExpertId(int Layer, int Expert) : IComparable<ExpertId>
{
    public int CompareTo(ExpertId other) => Layer != other.Layer ? Layer.CompareTo(other.Layer) : Expert.CompareTo(other.Expert);

    public override string ToString() => $"{Layer}/{Expert}";
}
