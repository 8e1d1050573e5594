namespace MoeRuntime.Serving.Dispatch;

/// <summary>
/// Per expert slot (<c>layer * experts + expert</c>), which replica takes the next first chunk, in turn: a one-token decode
/// step still reaches every replica over successive steps. Safe from any thread.
/// </summary>
public sealed class ReplicaTurns(int slots)
{
    readonly long[] _turns = new long[slots];

    /// <summary>The replica, of <paramref name="replicas"/>, that starts this call of <paramref name="slot"/>.</summary>
    public int Next(int slot, int replicas)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(replicas);
        return (int)((ulong)Interlocked.Increment(ref _turns[slot]) % (ulong)replicas);
    }
}
