using System.Text.Json;

namespace MoeRuntime.Traces;

/// <summary>How the external file is laid out.</summary>
public enum ExternalTraceFormat
{
    /// <summary>JSON lines, or one JSON array if the file starts with '['.</summary>
    Auto,
    JsonLines,
    JsonArray,
}

public sealed record TraceConversionOptions
{
    public ExternalTraceFormat Format { get; init; } = ExternalTraceFormat.Auto;
    public string Model { get; init; } = "";
    /// <summary>Override of the layer count; default: largest layer seen + 1.</summary>
    public int? Layers { get; init; }
    /// <summary>Override of the experts per layer; default: largest expert seen + 1 (or the length of full probability vectors).</summary>
    public int? Experts { get; init; }
    /// <summary>Override of top-k; required when records carry only full probability vectors.</summary>
    public int? TopK { get; init; }
    public long? ExpertBytes { get; init; }
    /// <summary>Conversion holds the routing in memory to order it by step; this bounds it.</summary>
    public long MaxTokenRecords { get; init; } = 50_000_000;
    public int MaxLineBytes { get; init; } = 4 << 20;
}

public sealed record TraceConversionResult(RoutingTraceHeader Header, long InputRecords, long TokenLayers, long Steps, long OutputRecords);

/// <summary>
/// Converts routing traces in the common external shape — one JSON object per token and layer (or per
/// layer with a list of positions) with fields such as <c>layer</c>, <c>token_idx</c>/<c>position</c>,
/// <c>experts</c>/<c>topk_ids</c>, <c>probs</c>/<c>gating_probs</c> — into a routing trace. Token ids and
/// text in the input are ignored; request ids are replaced by pseudonyms. See docs/routing-traces.md.
/// </summary>
public static class ExternalTraceConverter
{
    internal static readonly string[] LayerFields = ["layer", "layer_idx", "layer_id", "layer_index"];
    internal static readonly string[] PositionFields = ["positions", "position", "token_idx", "token_index", "token_position", "token_pos", "pos"];
    internal static readonly string[] ExpertFields = ["experts", "topk_ids", "topk_idx", "topk_indices", "expert_ids", "expert_indices", "selected_experts", "routed_experts"];
    internal static readonly string[] WeightFields = ["weights", "probs", "gating_probs", "gate_probs", "topk_weights", "topk_probs", "routing_weights", "expert_weights", "scores"];
    internal static readonly string[] RequestFields = ["request", "request_id", "sample_id", "sample_idx", "seq_id", "sequence_id", "prompt_id", "problem_id", "problem_idx", "conversation_id"];
    internal static readonly string[] StepFields = ["step", "iteration", "decode_step"];

    public static async Task<TraceConversionResult> ConvertAsync(string from, string to, TraceConversionOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new TraceConversionOptions();
        var state = new State(options);
        await using (var input = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true))
        {
            ExternalTraceFormat format = options.Format == ExternalTraceFormat.Auto ? await Sniff(input, cancellationToken) : options.Format;
            if (format == ExternalTraceFormat.JsonArray)
            {
                long index = 0;
                await foreach (JsonElement element in JsonSerializer.DeserializeAsyncEnumerable<JsonElement>(input, cancellationToken: cancellationToken))
                    state.Add(element, $"record {++index}");
            }
            else
            {
                using var reader = new StreamReader(input);
                long line = 0;
                while (await reader.ReadLineAsync(cancellationToken) is { } text)
                {
                    line++;
                    if (text.Length > options.MaxLineBytes) throw new RoutingTraceFormatException($"line is longer than {options.MaxLineBytes} characters", line);
                    if (string.IsNullOrWhiteSpace(text)) continue;
                    JsonDocument document;
                    try
                    {
                        document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 8 });
                    }
                    catch (JsonException e)
                    {
                        throw new RoutingTraceFormatException($"not valid JSON ({e.Message})", line);
                    }
                    using (document) state.Add(document.RootElement, $"line {line}");
                }
            }
        }
        return await state.WriteAsync(to);
    }

    static async Task<ExternalTraceFormat> Sniff(FileStream input, CancellationToken cancellationToken)
    {
        var probe = new byte[256];
        int read = await input.ReadAsync(probe, cancellationToken);
        input.Position = 0;
        foreach (byte b in probe.AsSpan(0, read))
        {
            if (b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or 0xEF or 0xBB or 0xBF) continue;
            return b == (byte)'[' ? ExternalTraceFormat.JsonArray : ExternalTraceFormat.JsonLines;
        }
        return ExternalTraceFormat.JsonLines;
    }

    /// <summary>One token at one layer, before it is ordered into steps.</summary>
    readonly record struct TokenLayer(int StepOrdinal, int Layer, ulong Request, long Position, int Width, int Offset, long Sequence);

    sealed class State(TraceConversionOptions options)
    {
        readonly RequestPseudonyms _pseudonyms = new();
        readonly Dictionary<string, ulong> _requests = [];
        readonly Dictionary<(ulong, long), int> _implicitSteps = [];
        readonly Dictionary<long, int> _explicitSteps = [];
        readonly List<TokenLayer> _tokens = [];
        readonly List<int> _experts = [];
        readonly List<float> _weights = [];
        bool? _explicit;
        bool _anyWeights;
        int _maxLayer = -1, _maxExpert = -1, _maxWidth, _distributionLength;
        long _inputRecords;

        public void Add(JsonElement root, string where)
        {
            _inputRecords++;
            if (root.ValueKind != JsonValueKind.Object) throw Error(where, "a record must be a JSON object");
            int layer = Find(root, LayerFields) is { } l && l.TryGetInt32(out int li) && li >= 0 && li < RoutingTraceHeader.MaxLayers
                ? li : throw Error(where, $"no layer (one of {string.Join(", ", LayerFields)}) as an integer in 0..{RoutingTraceHeader.MaxLayers - 1}");
            ulong request = Request(Find(root, RequestFields), where);

            JsonElement? positionElement = Find(root, PositionFields);
            long[] positions;
            bool listed = positionElement is { ValueKind: JsonValueKind.Array };
            if (positionElement is not { } pe) throw Error(where, $"no token position (one of {string.Join(", ", PositionFields)})");
            if (listed)
            {
                positions = new long[pe.GetArrayLength()];
                int i = 0;
                foreach (JsonElement p in pe.EnumerateArray())
                    positions[i++] = p.TryGetInt64(out long v) && v >= 0 ? v : throw Error(where, $"position {i} is not a non-negative integer");
                if (positions.Length == 0) throw Error(where, "an empty position list");
            }
            else positions = [pe.TryGetInt64(out long v) && v >= 0 ? v : throw Error(where, "the position is not a non-negative integer")];

            List<int[]> choices = Rows(Find(root, ExpertFields), positions.Length, listed, where, integer: true)
                .Select(row => row.Select(x => (int)x).ToArray()).ToList();
            JsonElement? weightElement = Find(root, WeightFields);
            List<double[]>? weights = weightElement is { ValueKind: not JsonValueKind.Null } we ? Rows(we, positions.Length, listed, where, integer: false) : null;
            if (choices.Count == 0)
            {
                // Only probabilities: the top-k of each full distribution are the chosen experts.
                if (weights is null) throw Error(where, $"no experts (one of {string.Join(", ", ExpertFields)}) and no probabilities");
                int k = options.TopK ?? throw Error(where, "records carry only probability vectors: give the top-k (--top-k)");
                choices = weights.Select(p => Enumerable.Range(0, p.Length).OrderByDescending(e => p[e]).ThenBy(e => e).Take(k).ToArray()).ToList();
            }

            long stepKey = -1;
            if (Find(root, StepFields) is { } stepElement)
                stepKey = stepElement.TryGetInt64(out long s) && s >= 0 ? s : throw Error(where, "the step is not a non-negative integer");
            bool isExplicit = stepKey >= 0;
            if (_explicit is { } known && known != isExplicit) throw Error(where, "some records have a step and some do not");
            _explicit = isExplicit;
            int ordinal = isExplicit ? Ordinal(_explicitSteps, stepKey) : Ordinal(_implicitSteps, (request, positions[0]));

            for (int t = 0; t < positions.Length; t++)
            {
                int[] chosen = choices[t];
                if (chosen.Length == 0 || chosen.Length > RoutingTraceHeader.MaxTopK) throw Error(where, $"token {t} has {chosen.Length} experts");
                if (chosen.Distinct().Count() != chosen.Length) throw Error(where, $"token {t} names an expert twice");
                double[]? w = weights?[t];
                if (w is not null)
                {
                    if (w.Length > chosen.Length)
                    {
                        // A full distribution over the layer's experts: take each chosen expert's entry.
                        _distributionLength = Math.Max(_distributionLength, w.Length);
                        w = chosen.Select(e => e < w.Length ? w[e] : throw Error(where, $"expert {e} is outside its probability vector")).ToArray();
                    }
                    else if (w.Length != chosen.Length) throw Error(where, $"token {t} has {chosen.Length} experts but {w.Length} weights");
                    if (w.Any(x => !double.IsFinite(x) || !float.IsFinite((float)x))) throw Error(where, "a weight is not a finite number");
                    _anyWeights = true;
                }
                if (_tokens.Count >= options.MaxTokenRecords) throw Error(where, $"more than {options.MaxTokenRecords} token-layer records");
                _tokens.Add(new TokenLayer(ordinal, layer, request, positions[t], chosen.Length, _experts.Count, _tokens.Count));
                foreach (int e in chosen)
                {
                    if (e < 0 || e >= RoutingTraceHeader.MaxExperts) throw Error(where, $"expert {e} is out of range");
                    _experts.Add(e);
                    _maxExpert = Math.Max(_maxExpert, e);
                }
                for (int s = 0; s < chosen.Length; s++) _weights.Add(w is null ? float.NaN : (float)w[s]);
                _maxWidth = Math.Max(_maxWidth, chosen.Length);
            }
            _maxLayer = Math.Max(_maxLayer, layer);
        }

        ulong Request(JsonElement? element, string where)
        {
            string raw = element switch
            {
                null => "",
                { ValueKind: JsonValueKind.String } s => s.GetString()!,
                { ValueKind: JsonValueKind.Number } n => n.GetRawText(),
                _ => throw Error(where, "the request id is neither a string nor a number"),
            };
            if (raw.Length > 1024) throw Error(where, "the request id is longer than 1024 characters");
            if (!_requests.TryGetValue(raw, out ulong id))
            {
                if (_requests.Count > 1_000_000) _requests.Clear();
                _requests[raw] = id = _pseudonyms.Of(raw);
            }
            return id;
        }

        static int Ordinal<TKey>(Dictionary<TKey, int> steps, TKey key) where TKey : notnull
        {
            if (!steps.TryGetValue(key, out int ordinal)) steps[key] = ordinal = steps.Count;
            return ordinal;
        }

        /// <summary>Per token, a list of numbers: [[a,b],[c,d]] for listed positions, [a,b] (or [[a,b]] or a) for one.</summary>
        static List<double[]> Rows(JsonElement? element, int tokens, bool listed, string where, bool integer)
        {
            if (element is not { } e || e.ValueKind == JsonValueKind.Null) return [];
            double[] Numbers(JsonElement array) => array.ValueKind switch
            {
                JsonValueKind.Number => [Number(array)],
                JsonValueKind.Array => array.EnumerateArray().Select(Number).ToArray(),
                _ => throw Error(where, "expected a number or a list of numbers"),
            };
            double Number(JsonElement n)
            {
                if (n.ValueKind != JsonValueKind.Number) throw Error(where, "expected a number");
                if (integer) return n.TryGetInt32(out int i) ? i : throw Error(where, "an expert is not an integer");
                return n.GetDouble();
            }
            bool nested = e.ValueKind == JsonValueKind.Array && e.GetArrayLength() > 0 && e[0].ValueKind == JsonValueKind.Array;
            if (!listed && !nested) return [Numbers(e)];
            if (!nested || e.GetArrayLength() != tokens) throw Error(where, $"expected one list per position ({tokens})");
            return e.EnumerateArray().Select(Numbers).ToList();
        }

        public async Task<TraceConversionResult> WriteAsync(string to)
        {
            if (_tokens.Count == 0) throw new RoutingTraceFormatException("the input holds no routing records");
            int experts = options.Experts ?? Math.Max(_maxExpert + 1, _distributionLength);
            int layers = options.Layers ?? _maxLayer + 1;
            int topK = options.TopK ?? _maxWidth;
            if (_maxExpert >= experts) throw new RoutingTraceFormatException($"expert {_maxExpert} is outside --experts {experts}");
            if (_maxLayer >= layers) throw new RoutingTraceFormatException($"layer {_maxLayer} is outside --layers {layers}");
            if (_maxWidth > topK) throw new RoutingTraceFormatException($"a token has {_maxWidth} experts, more than --top-k {topK}");
            var header = new RoutingTraceHeader { Model = options.Model, Layers = layers, Experts = experts, TopK = topK, ExpertBytes = options.ExpertBytes };
            try
            {
                header.Validate();
            }
            catch (ArgumentException e)
            {
                throw new RoutingTraceFormatException(e.Message);
            }

            // Explicit steps keep their numeric order; implicit ones their order of first appearance.
            int[] stepOf = new int[Math.Max(_explicitSteps.Count, _implicitSteps.Count)];
            if (_explicit == true)
            {
                int rank = 0;
                foreach (var (_, ordinal) in _explicitSteps.OrderBy(p => p.Key)) stepOf[ordinal] = rank++;
            }
            else for (int i = 0; i < stepOf.Length; i++) stepOf[i] = i;

            TokenLayer[] ordered = [.. _tokens];
            Array.Sort(ordered, (a, b) =>
            {
                int c = stepOf[a.StepOrdinal].CompareTo(stepOf[b.StepOrdinal]);
                if (c == 0) c = a.Layer.CompareTo(b.Layer);
                return c != 0 ? c : a.Sequence.CompareTo(b.Sequence);
            });

            long records = 0;
            await using (RoutingTraceWriter writer = RoutingTraceWriter.Create(to, header, new RoutingTraceWriterOptions { MaxPendingBuffers = 1 << 20, MaxFileBytes = long.MaxValue }))
            {
                var positions = new List<long>();
                var chosen = new List<int>();
                var weights = new List<float>();
                int start = 0;
                while (start < ordered.Length)
                {
                    TokenLayer first = ordered[start];
                    int end = start;
                    positions.Clear(); chosen.Clear(); weights.Clear();
                    while (end < ordered.Length && ordered[end] is var t && t.StepOrdinal == first.StepOrdinal && t.Layer == first.Layer
                        && t.Request == first.Request && t.Width == first.Width)
                    {
                        positions.Add(t.Position);
                        for (int s = 0; s < t.Width; s++)
                        {
                            chosen.Add(_experts[t.Offset + s]);
                            weights.Add(_weights[t.Offset + s]);
                        }
                        end++;
                    }
                    bool complete = _anyWeights && !weights.Any(float.IsNaN);
                    writer.Write(stepOf[first.StepOrdinal], first.Request, first.Layer, positions.ToArray(), first.Width, chosen.ToArray(), complete ? weights.ToArray() : []);
                    records++;
                    start = end;
                }
                await writer.FlushAsync();
                if (writer.Dropped > 0) throw new IOException($"{writer.Dropped} records could not be written to {to}");
            }
            return new TraceConversionResult(header, _inputRecords, _tokens.Count, stepOf.Length, records);
        }

        static RoutingTraceFormatException Error(string where, string message) => new($"{where}: {message}");
    }

    static JsonElement? Find(JsonElement root, string[] names)
    {
        foreach (string name in names)
            if (root.TryGetProperty(name, out JsonElement value)) return value;
        return null;
    }
}
