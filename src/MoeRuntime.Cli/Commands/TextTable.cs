namespace MoeRuntime.Cli.Commands;

/// <summary>A Markdown pipe table for the console: a header, rows, columns padded to their widest cell.</summary>
sealed class TextTable(params string[] columns)
{
    readonly List<string[]> _rows = [];

    public void Add(params string[] cells)
    {
        if (cells.Length != columns.Length) throw new ArgumentException($"a row has {cells.Length} cells, the table {columns.Length} columns");
        _rows.Add(cells);
    }

    /// <summary>The table; the first column is left-aligned, the others (numbers) right-aligned.</summary>
    public void WriteTo(TextWriter writer)
    {
        int[] widths = columns.Select((c, i) => Math.Max(c.Length, _rows.Count == 0 ? 0 : _rows.Max(r => r[i].Length))).ToArray();
        string Line(string[] cells) =>
            "| " + string.Join(" | ", cells.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))) + " |";
        writer.WriteLine(Line(columns));
        writer.WriteLine("|" + string.Join("|", widths.Select((w, i) => i == 0 ? new string('-', w + 2) : new string('-', w + 1) + ":")) + "|");
        foreach (string[] row in _rows) writer.WriteLine(Line(row));
    }
}
