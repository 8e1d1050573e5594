namespace MoeRuntime.Control.Replay;

/// <summary>
/// What a policy may do to the hot sets at an interval boundary, as a tier controller applying a plan
/// would: read them, demote, and promote into free room (promotions are fetches and are counted).
/// </summary>
public sealed class HotSetEditor
{
    readonly ReplaySimulator.Run _run;

    internal HotSetEditor(ReplaySimulator.Run run) => _run = run;

    public int CapacityPerLayer => _run.Capacity;
    public bool IsHot(int layer, int expert) => _run.IsHot(layer, expert);
    /// <summary>The layer's hot experts, in no particular order.</summary>
    public ReadOnlySpan<int> Hot(int layer) => _run.Resident(layer);
    public int FreeSlots(int layer) => _run.Capacity - _run.Resident(layer).Length;

    /// <summary>Makes <paramref name="expert"/> hot; false when it already is or the layer is full (demote first).</summary>
    public bool Promote(int layer, int expert) => _run.Promote(layer, expert);

    /// <summary>Makes <paramref name="expert"/> not hot; false when it was not.</summary>
    public bool Demote(int layer, int expert) => _run.Demote(layer, expert);
}
