namespace MoeRuntime.Telemetry.Summaries;

/// <summary>A dense row-major matrix of counts (hits, or nanoseconds), e.g. layer × expert or tier × layer.</summary>
public sealed class CountMatrix
{
    private readonly long[] _cells;

    /// <summary>Wraps <paramref name="cells"/> (row-major, rows × columns long) without copying.</summary>
    public CountMatrix(int rows, int columns, long[] cells)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        if (cells.Length != (long)rows * columns)
            throw new ArgumentException($"A {rows} × {columns} matrix needs {rows * columns} cells, got {cells.Length}.", nameof(cells));
        Rows = rows;
        Columns = columns;
        _cells = cells;
    }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of columns.</summary>
    public int Columns { get; }

    /// <summary>The cells, row-major.</summary>
    public ReadOnlySpan<long> Cells => _cells;

    /// <summary>One cell.</summary>
    public long this[int row, int column] => _cells[row * Columns + column];

    /// <summary>Sum of one row.</summary>
    public long RowTotal(int row)
    {
        long total = 0;
        foreach (var cell in _cells.AsSpan(row * Columns, Columns)) total += cell;
        return total;
    }
}
