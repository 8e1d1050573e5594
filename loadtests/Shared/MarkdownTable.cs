using System.Text;

namespace MoeRuntime.LoadTests;

/// <summary>A pipe table, padded so that it also reads well on a terminal.</summary>
sealed class MarkdownTable(params string[] headers)
{
    readonly List<string[]> _rows = [];

    public void Add(params string[] cells)
    {
        if (cells.Length != headers.Length) throw new ArgumentException($"a row needs {headers.Length} cells, got {cells.Length}");
        _rows.Add(cells);
    }

    public string Render()
    {
        int[] widths = headers.Select((h, i) => _rows.Select(r => r[i].Length).Prepend(h.Length).Max()).ToArray();
        var text = new StringBuilder();
        void Line(IEnumerable<string> cells) => text.Append("| ").AppendJoin(" | ", cells).AppendLine(" |");
        Line(headers.Select((h, i) => h.PadRight(widths[i])));
        Line(widths.Select(w => new string('-', w)));
        foreach (string[] row in _rows) Line(row.Select((c, i) => c.PadRight(widths[i])));
        return text.ToString();
    }
}
