namespace MoeRuntime.Grains.Control;

/// <summary>
/// The decision log of one model: a ring of the newest <see cref="Capacity"/> decisions, each given the next sequence
/// number. Kept in memory: an audit trail for operators watching the loop, not a durable record (the TierSet
/// versions themselves keep who changed what and why).
/// </summary>
public sealed class ControlDecisionLogGrain : Grain, IControlDecisionLogGrain
{
    public const int Capacity = 2000;
    readonly ControlDecisionRecord[] _ring = new ControlDecisionRecord[Capacity];
    long _next = 1;

    public Task RecordAsync(ControlDecisionRecord[] decisions)
    {
        ArgumentNullException.ThrowIfNull(decisions);
        foreach (ControlDecisionRecord decision in decisions)
        {
            _ring[_next % Capacity] = decision with { Sequence = _next };
            _next++;
        }
        return Task.CompletedTask;
    }

    public Task<ControlDecisionRecord[]> GetDecisionsAsync(int maxDecisions, string? controller)
    {
        int max = Math.Clamp(maxDecisions, 1, Capacity);
        var newest = new List<ControlDecisionRecord>(Math.Min(max, 256));
        for (long sequence = _next - 1; sequence >= Math.Max(1, _next - Capacity) && newest.Count < max; sequence--)
        {
            ControlDecisionRecord record = _ring[sequence % Capacity];
            if (controller is null || string.Equals(record.Controller, controller, StringComparison.OrdinalIgnoreCase)) newest.Add(record);
        }
        return Task.FromResult(newest.ToArray());
    }
}
