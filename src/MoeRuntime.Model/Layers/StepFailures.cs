namespace MoeRuntime.Model.Layers;

/// <summary>
/// The rows of one forward step whose expert failed (an expert copy that produced NaN or infinity, or failed its integrity
/// check): a dispatcher records them here instead of failing the whole step, leaves those rows without that expert's
/// output, and the caller fails only the sequences the rows belong to. Experts of a layer run concurrently, so recording is
/// thread-safe; reading happens once the step is over.
/// </summary>
public sealed class StepFailures
{
    readonly Lock _lock = new();
    Exception?[] _rows = [];
    int _failed;

    /// <summary>Forgets the last step's failures and sizes for a step of <paramref name="rows"/> rows.</summary>
    public void Reset(int rows)
    {
        if (_rows.Length < rows) _rows = new Exception?[rows];
        else if (_failed > 0) Array.Clear(_rows);
        _failed = 0;
    }

    /// <summary>Whether any row of the step failed.</summary>
    public bool Any => Volatile.Read(ref _failed) > 0;

    /// <summary>Records that <paramref name="rows"/> lost an expert's output because of <paramref name="reason"/>; the first reason per row is kept.</summary>
    public void Fail(IEnumerable<int> rows, Exception reason)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(reason);
        lock (_lock)
        {
            foreach (int row in rows)
            {
                if ((uint)row >= (uint)_rows.Length) throw new ArgumentOutOfRangeException(nameof(rows), $"row {row} is outside the step's {_rows.Length} rows");
                _rows[row] ??= reason;
            }
            _failed++;
        }
    }

    /// <summary>
    /// Records the failures of a micro-batch's <paramref name="rows"/> rows (<paramref name="part"/>, indexed from its first row)
    /// as the step's rows from <paramref name="offset"/> on, so the caller sees the step's rows as if it had not been split.
    /// </summary>
    public void Include(StepFailures part, int offset, int rows)
    {
        ArgumentNullException.ThrowIfNull(part);
        if (!part.Any) return;
        if (offset < 0 || rows < 0 || rows > part._rows.Length || (long)offset + rows > _rows.Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"rows {offset}..{(long)offset + rows - 1} are outside the step's {_rows.Length} rows");
        lock (_lock)
        {
            for (int row = 0; row < rows; row++)
                if (part._rows[row] is { } reason) _rows[offset + row] ??= reason;
            _failed += part._failed;
        }
    }

    /// <summary>The failure of the first failed row in [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>), or null.</summary>
    public Exception? FirstIn(int start, int count)
    {
        if (!Any) return null;
        for (int row = start; row < start + count && row < _rows.Length; row++)
            if (_rows[row] is { } reason) return reason;
        return null;
    }
}
