using System.Text.Json;

namespace MoeRuntime.Traces;

/// <summary>Limits a <see cref="RoutingTraceReader"/> enforces: a trace is untrusted input.</summary>
public sealed record RoutingTraceReaderOptions
{
    public int MaxLineBytes { get; init; } = 4 << 20;
    public int MaxTokensPerRecord { get; init; } = 1 << 16;
    public int MaxRequestLength { get; init; } = 128;
    /// <summary>Reading stops with an error after this many records.</summary>
    public long MaxRecords { get; init; } = 1L << 32;
}

/// <summary>
/// Streams a routing trace: the header is read and checked on open, records one line at a time.
/// Every line is validated against the header (layer and expert ranges, shapes, finite weights,
/// non-decreasing steps); the first violation throws <see cref="RoutingTraceFormatException"/>
/// naming the line. Unknown fields are ignored, so later minor additions stay readable.
/// </summary>
public sealed class RoutingTraceReader : IDisposable
{
    static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 4 };
    readonly LineReader _lines;
    readonly RoutingTraceReaderOptions _options;
    long _records, _lastStep = -1;

    public RoutingTraceReader(Stream stream, RoutingTraceReaderOptions? options = null, bool leaveOpen = false)
    {
        _options = options ?? new RoutingTraceReaderOptions();
        _lines = new LineReader(stream, _options.MaxLineBytes, leaveOpen);
        if (!_lines.TryRead(out ReadOnlyMemory<byte> first)) throw new RoutingTraceFormatException("the trace is empty: expected a header line", 1);
        Header = ParseHeader(first, _lines.Line);
    }

    public static RoutingTraceReader Open(string path, RoutingTraceReaderOptions? options = null) =>
        new(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16), options);

    public RoutingTraceHeader Header { get; }
    /// <summary>The 1-based line last read.</summary>
    public long Line => _lines.Line;

    /// <summary>Reads the next record; false at the end of the trace.</summary>
    public bool TryRead(out RoutingTraceRecord record)
    {
        while (_lines.TryRead(out ReadOnlyMemory<byte> line))
        {
            if (IsBlank(line.Span)) continue;
            if (++_records > _options.MaxRecords) throw new RoutingTraceFormatException($"more than {_options.MaxRecords} records", Line);
            record = ParseRecord(line, Line);
            return true;
        }
        record = null!;
        return false;
    }

    public IEnumerable<RoutingTraceRecord> ReadAll()
    {
        while (TryRead(out RoutingTraceRecord record)) yield return record;
    }

    static bool IsBlank(ReadOnlySpan<byte> line)
    {
        foreach (byte b in line)
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r')) return false;
        return true;
    }

    static JsonDocument Parse(ReadOnlyMemory<byte> line, long number)
    {
        try
        {
            return JsonDocument.Parse(line, JsonOptions);
        }
        catch (JsonException e)
        {
            throw new RoutingTraceFormatException($"not valid JSON ({e.Message})", number);
        }
    }

    static RoutingTraceHeader ParseHeader(ReadOnlyMemory<byte> line, long number)
    {
        if (IsBlank(line.Span)) throw new RoutingTraceFormatException($"expected the header {{\"format\":\"{RoutingTraceHeader.FormatName}\",...}}, found an empty line", number);
        using JsonDocument document = Parse(line, number);
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out JsonElement format)
            || format.ValueKind != JsonValueKind.String || format.GetString() != RoutingTraceHeader.FormatName)
            throw new RoutingTraceFormatException($"expected the header {{\"format\":\"{RoutingTraceHeader.FormatName}\",\"version\":1,...}}", number);
        try
        {
            var header = new RoutingTraceHeader
            {
                Version = RequiredInt(root, "version", number),
                Model = root.TryGetProperty("model", out JsonElement model) && model.ValueKind == JsonValueKind.String ? model.GetString()! : "",
                Layers = RequiredInt(root, "layers", number),
                Experts = RequiredInt(root, "experts", number),
                TopK = RequiredInt(root, "top_k", number),
                ExpertBytes = root.TryGetProperty("expert_bytes", out JsonElement bytes) && bytes.ValueKind != JsonValueKind.Null
                    ? bytes.TryGetInt64(out long b) ? b : throw new RoutingTraceFormatException("expert_bytes must be an integer", number)
                    : null,
            };
            header.Validate();
            return header;
        }
        catch (ArgumentException e)
        {
            throw new RoutingTraceFormatException($"header: {e.Message}", number);
        }
    }

    static int RequiredInt(JsonElement root, string name, long number) =>
        root.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int v)
            ? v
            : throw new RoutingTraceFormatException($"\"{name}\" must be an integer", number);

    RoutingTraceRecord ParseRecord(ReadOnlyMemory<byte> line, long number)
    {
        using JsonDocument document = Parse(line, number);
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new RoutingTraceFormatException("a record must be a JSON object", number);
        if (root.TryGetProperty("format", out _)) throw new RoutingTraceFormatException("a second header; concatenated traces must be split", number);

        if (!root.TryGetProperty("step", out JsonElement stepElement) || !stepElement.TryGetInt64(out long step) || step < 0)
            throw new RoutingTraceFormatException("\"step\" must be a non-negative integer", number);
        if (step < _lastStep) throw new RoutingTraceFormatException($"step {step} after step {_lastStep}: steps must not decrease", number);
        _lastStep = step;

        if (!root.TryGetProperty("request", out JsonElement requestElement) || requestElement.ValueKind != JsonValueKind.String)
            throw new RoutingTraceFormatException("\"request\" must be a string", number);
        string request = requestElement.GetString()!;
        if (request.Length > _options.MaxRequestLength)
            throw new RoutingTraceFormatException($"\"request\" is longer than {_options.MaxRequestLength} characters", number);

        if (!root.TryGetProperty("layer", out JsonElement layerElement) || !layerElement.TryGetInt32(out int layer) || layer < 0 || layer >= Header.Layers)
            throw new RoutingTraceFormatException($"\"layer\" must be an integer in 0..{Header.Layers - 1}", number);

        if (!root.TryGetProperty("positions", out JsonElement positionsElement) || positionsElement.ValueKind != JsonValueKind.Array)
            throw new RoutingTraceFormatException("\"positions\" must be an array", number);
        int tokens = positionsElement.GetArrayLength();
        if (tokens < 1 || tokens > _options.MaxTokensPerRecord)
            throw new RoutingTraceFormatException($"\"positions\" must hold 1..{_options.MaxTokensPerRecord} entries, has {tokens}", number);
        var positions = new long[tokens];
        int i = 0;
        foreach (JsonElement p in positionsElement.EnumerateArray())
        {
            if (!p.TryGetInt64(out long position) || position < 0)
                throw new RoutingTraceFormatException($"positions[{i}] must be a non-negative integer", number);
            positions[i++] = position;
        }

        if (!root.TryGetProperty("experts", out JsonElement expertsElement) || expertsElement.ValueKind != JsonValueKind.Array || expertsElement.GetArrayLength() != tokens)
            throw new RoutingTraceFormatException($"\"experts\" must be an array with one list per position ({tokens})", number);
        int topK = 0;
        int[] experts = [];
        i = 0;
        foreach (JsonElement choices in expertsElement.EnumerateArray())
        {
            if (choices.ValueKind != JsonValueKind.Array) throw new RoutingTraceFormatException($"experts[{i}] must be an array", number);
            int k = choices.GetArrayLength();
            if (i == 0)
            {
                if (k < 1 || k > Header.TopK) throw new RoutingTraceFormatException($"experts[0] must hold 1..{Header.TopK} experts (top_k), has {k}", number);
                topK = k;
                experts = new int[tokens * topK];
            }
            else if (k != topK) throw new RoutingTraceFormatException($"experts[{i}] has {k} experts, experts[0] has {topK}: one record has one width", number);
            int s = 0;
            foreach (JsonElement e in choices.EnumerateArray())
            {
                if (!e.TryGetInt32(out int expert) || expert < 0 || expert >= Header.Experts)
                    throw new RoutingTraceFormatException($"experts[{i}][{s}] must be an integer in 0..{Header.Experts - 1}", number);
                for (int before = 0; before < s; before++)
                    if (experts[i * topK + before] == expert) throw new RoutingTraceFormatException($"experts[{i}] names expert {expert} twice", number);
                experts[i * topK + s++] = expert;
            }
            i++;
        }

        float[] weights = [];
        if (root.TryGetProperty("weights", out JsonElement weightsElement) && weightsElement.ValueKind != JsonValueKind.Null)
        {
            if (weightsElement.ValueKind != JsonValueKind.Array || weightsElement.GetArrayLength() != tokens)
                throw new RoutingTraceFormatException($"\"weights\" must be an array with one list per position ({tokens})", number);
            weights = new float[tokens * topK];
            i = 0;
            foreach (JsonElement row in weightsElement.EnumerateArray())
            {
                if (row.ValueKind != JsonValueKind.Array || row.GetArrayLength() != topK)
                    throw new RoutingTraceFormatException($"weights[{i}] must be an array of {topK} numbers", number);
                int s = 0;
                foreach (JsonElement w in row.EnumerateArray())
                {
                    if (w.ValueKind != JsonValueKind.Number || !w.TryGetDouble(out double value) || !double.IsFinite(value) || !float.IsFinite((float)value))
                        throw new RoutingTraceFormatException($"weights[{i}][{s}] must be a finite number", number);
                    weights[i * topK + s++] = (float)value;
                }
                i++;
            }
        }
        return new RoutingTraceRecord(step, request, layer, positions, topK, experts, weights);
    }

    public void Dispose() => _lines.Dispose();

    /// <summary>Splits a stream into lines of at most a given length without decoding them.</summary>
    sealed class LineReader(Stream stream, int maxLineBytes, bool leaveOpen) : IDisposable
    {
        readonly byte[] _chunk = new byte[1 << 16];
        byte[] _line = new byte[4096];
        int _chunkStart, _chunkEnd;
        bool _ended;

        public long Line { get; private set; }

        public bool TryRead(out ReadOnlyMemory<byte> line)
        {
            int length = 0;
            while (true)
            {
                if (_chunkStart == _chunkEnd)
                {
                    if (_ended) break;
                    _chunkEnd = stream.Read(_chunk, 0, _chunk.Length);
                    _chunkStart = 0;
                    if (_chunkEnd == 0)
                    {
                        _ended = true;
                        break;
                    }
                }
                ReadOnlySpan<byte> available = _chunk.AsSpan(_chunkStart, _chunkEnd - _chunkStart);
                int newline = available.IndexOf((byte)'\n');
                int take = newline < 0 ? available.Length : newline;
                if (length + take > maxLineBytes) throw new RoutingTraceFormatException($"line is longer than {maxLineBytes} bytes", Line + 1);
                if (length + take > _line.Length) Array.Resize(ref _line, Math.Min(maxLineBytes, Math.Max(_line.Length * 2, length + take)));
                available[..take].CopyTo(_line.AsSpan(length));
                length += take;
                _chunkStart += take;
                if (newline >= 0)
                {
                    _chunkStart++;
                    Line++;
                    line = _line.AsMemory(0, length);
                    return true;
                }
            }
            if (length == 0)
            {
                line = default;
                return false;
            }
            Line++;
            line = _line.AsMemory(0, length);
            return true;
        }

        public void Dispose()
        {
            if (!leaveOpen) stream.Dispose();
        }
    }
}
