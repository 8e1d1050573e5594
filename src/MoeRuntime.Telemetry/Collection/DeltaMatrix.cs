using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Collection;

/// <summary>
/// A dense matrix of running totals that many threads add to with Interlocked operations, and
/// whose change since the previous <see cref="TakeDelta"/> the collector reads. Totals are never
/// reset, so a racing add is reported in exactly one delta.
/// </summary>
internal sealed class DeltaMatrix
{
    private readonly long[] _totals;
    private readonly long[] _reported;

    public DeltaMatrix(int rows, int columns)
    {
        Rows = rows;
        Columns = columns;
        _totals = new long[rows * columns];
        _reported = new long[rows * columns];
    }

    public int Rows { get; }

    public int Columns { get; }

    public void Add(int row, int column, long amount) => Interlocked.Add(ref _totals[row * Columns + column], amount);

    public CountMatrix TakeDelta()
    {
        var delta = new long[_totals.Length];
        for (var i = 0; i < _totals.Length; i++)
        {
            var total = Volatile.Read(ref _totals[i]);
            delta[i] = total - _reported[i];
            _reported[i] = total;
        }
        return new CountMatrix(Rows, Columns, delta);
    }
}
