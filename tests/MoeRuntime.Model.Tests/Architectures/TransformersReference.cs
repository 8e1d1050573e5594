using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Tests.Layers;
using static MoeRuntime.Model.Tests.ReferenceMath;

namespace MoeRuntime.Model.Tests.Architectures;

/// <summary>What one greedy step computed: the chosen token, the last position's logits, and each layer's experts per new token.</summary>
sealed record ReferenceStep(int Token, double[] Logits, int[][][] Routing);

/// <summary>
/// Transformers' forward passes of Mixtral, Qwen2-MoE, OLMoE and Qwen3-MoE written again as plain loops in double
/// precision, with a key/value cache, from the architectures' definitions (modeling_*.py and modeling_rope_utils.py).
/// It calls nothing of the runtime: the weights are float arrays by Hugging Face name, and the settings are the
/// <see cref="ModelConfig"/> record a test states for what transformers makes of a config file.
/// </summary>
sealed class TransformersReference
{
    readonly ModelConfig _c;
    readonly Dictionary<string, float[]> _w;
    readonly string _moe;
    // Per layer: keys (rotated when computed) and values of every cached position, [position][kvHeads * headDim].
    readonly List<double[]>[] _keys;
    readonly List<double[]>[] _values;

    public TransformersReference(ModelConfig stated, TinyModelWeights weights)
    {
        _c = stated;
        _w = weights.Arrays;
        _moe = stated.Architecture == ModelArchitecture.Mixtral ? "block_sparse_moe" : "mlp";
        _keys = Enumerable.Range(0, stated.LayerCount).Select(_ => new List<double[]>()).ToArray();
        _values = Enumerable.Range(0, stated.LayerCount).Select(_ => new List<double[]>()).ToArray();
    }

    /// <summary>Greedy generation as transformers' <c>generate</c> does it: the prompt in one pass, then one token per pass.</summary>
    public List<ReferenceStep> Generate(int[] prompt, int newTokens)
    {
        var steps = new List<ReferenceStep>();
        int[] chunk = prompt;
        for (int i = 0; i < newTokens; i++)
        {
            var routing = new int[_c.LayerCount][][];
            double[][] logits = Forward(chunk, routing);
            double[] last = logits[^1];
            int token = 0;
            for (int v = 1; v < last.Length; v++)
                if (last[v] > last[token]) token = v;
            steps.Add(new ReferenceStep(token, last, routing));
            chunk = [token];
        }
        return steps;
    }

    float[] W(string name) => _w.TryGetValue(name, out float[]? w) ? w : throw new KeyNotFoundException(name);

    double[][] Forward(int[] tokens, int[][][] routing)
    {
        int n = tokens.Length, h = _c.HiddenSize, start = _keys[0].Count;
        var x = new double[n][];
        for (int t = 0; t < n; t++) x[t] = Enumerable.Range(0, h).Select(j => (double)W("model.embed_tokens.weight")[tokens[t] * h + j]).ToArray();
        for (int l = 0; l < _c.LayerCount; l++)
        {
            string p = $"model.layers.{l}.";
            double[][] normed = x.Select(r => RmsNorm(r, W(p + "input_layernorm.weight"))).ToArray();
            double[][] attention = Attention(l, normed, start);
            for (int t = 0; t < n; t++) Add(x[t], attention[t]);
            routing[l] = new int[n][];
            for (int t = 0; t < n; t++)
                Add(x[t], SparseMoe(l, RmsNorm(x[t], W(p + "post_attention_layernorm.weight")), out routing[l][t]));
        }
        string head = _c.TieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
        return x.Select(r => MatVec(W(head), RmsNorm(r, W("model.norm.weight")), _c.VocabularySize, h)).ToArray();
    }

    double[][] Attention(int l, double[][] x, int start)
    {
        string p = $"model.layers.{l}.self_attn.";
        int n = x.Length, d = _c.HeadDimension, heads = _c.AttentionHeadCount, kvHeads = _c.KeyValueHeadCount;
        int end = start + n;
        double[] inverseFrequency = InverseFrequency(end);
        var queries = new double[n][];
        for (int t = 0; t < n; t++)
        {
            double[] q = Linear(p + "q_proj", x[t], heads * d, _c.AttentionBias);
            double[] k = Linear(p + "k_proj", x[t], kvHeads * d, _c.AttentionBias);
            double[] v = Linear(p + "v_proj", x[t], kvHeads * d, _c.AttentionBias);
            if (_c.QueryKeyNorm)
            {
                q = RmsNorm(q, W(p + "q_norm.weight"));
                k = RmsNorm(k, W(p + "k_norm.weight"));
            }
            if (_c.PerHeadQueryKeyNorm)
            {
                q = PerHead(q, heads, W(p + "q_norm.weight"));
                k = PerHead(k, kvHeads, W(p + "k_norm.weight"));
            }
            if (_c.ClipQkv is { } c)
                foreach (double[] a in new[] { q, k, v })
                    for (int i = 0; i < a.Length; i++) a[i] = Math.Clamp(a[i], -c, c);
            Rotate(q, heads, start + t, inverseFrequency);
            Rotate(k, kvHeads, start + t, inverseFrequency);
            queries[t] = q;
            _keys[l].Add(k);
            _values[l].Add(v);
        }
        var output = new double[n][];
        for (int t = 0; t < n; t++)
        {
            int position = start + t;
            var context = new double[heads * d];
            for (int head = 0; head < heads; head++)
            {
                int kvHead = head / (heads / kvHeads);
                var visible = Enumerable.Range(0, position + 1)
                    .Where(s => _c.SlidingWindow is not { } window || s > position - window).ToArray();
                double[] scores = visible.Select(s =>
                {
                    double dot = 0;
                    for (int j = 0; j < d; j++) dot += queries[t][head * d + j] * _keys[l][s][kvHead * d + j];
                    return dot / Math.Sqrt(d);
                }).ToArray();
                double[] probabilities = Softmax(scores);
                for (int i = 0; i < visible.Length; i++)
                    for (int j = 0; j < d; j++) context[head * d + j] += probabilities[i] * _values[l][visible[i]][kvHead * d + j];
            }
            output[t] = Linear(p + "o_proj", context, _c.HiddenSize, _c.OutputBias);
        }
        return output;
    }

    /// <summary>modeling_rope_utils: default, linear (frequencies / factor) and dynamic NTK for a pass reaching <paramref name="length"/> positions.</summary>
    double[] InverseFrequency(int length)
    {
        int d = _c.HeadDimension;
        double theta = _c.RopeTheta;
        if (_c.RopeScaling.Type == RopeScalingType.Dynamic && length > _c.MaxPositionEmbeddings)
        {
            double f = _c.RopeScaling.Factor, max = _c.MaxPositionEmbeddings;
            theta *= Math.Pow(f * length / max - (f - 1), d / (d - 2.0));
        }
        var inverse = new double[d / 2];
        for (int i = 0; i < inverse.Length; i++)
        {
            inverse[i] = 1 / Math.Pow(theta, 2.0 * i / d);
            if (_c.RopeScaling.Type == RopeScalingType.Linear) inverse[i] /= _c.RopeScaling.Factor;
        }
        return inverse;
    }

    void Rotate(double[] x, int heads, int position, double[] inverseFrequency)
    {
        int d = _c.HeadDimension, half = d / 2;
        for (int head = 0; head < heads; head++)
            for (int i = 0; i < half; i++)
            {
                double angle = position * inverseFrequency[i];
                double a = x[head * d + i], b = x[head * d + i + half];
                x[head * d + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                x[head * d + i + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
            }
    }

    double[] SparseMoe(int l, double[] x, out int[] chosen)
    {
        string p = $"model.layers.{l}.{_moe}.";
        double[] probabilities = Softmax(MatVec(W(p + "gate.weight"), x, _c.ExpertCount, x.Length));
        chosen = Enumerable.Range(0, probabilities.Length).OrderByDescending(e => probabilities[e]).ThenBy(e => e).Take(_c.ExpertsPerToken).ToArray();
        double[] weights = chosen.Select(e => probabilities[e]).ToArray();
        if (_c.NormalizeTopKProbabilities)
        {
            double sum = weights.Sum();
            for (int i = 0; i < weights.Length; i++) weights[i] /= sum;
        }
        var y = new double[x.Length];
        for (int i = 0; i < chosen.Length; i++)
        {
            string e = $"{p}experts.{chosen[i]}.";
            double[] output = _c.Architecture == ModelArchitecture.Mixtral
                ? SwiGlu(x, e + "w1", e + "w2", e + "w3", _c.ExpertIntermediateSize)
                : SwiGlu(x, e + "gate_proj", e + "down_proj", e + "up_proj", _c.ExpertIntermediateSize);
            for (int j = 0; j < y.Length; j++) y[j] += weights[i] * output[j];
        }
        if (_c.SharedExpertIntermediateSize > 0)
        {
            string s = p + "shared_expert.";
            double[] output = SwiGlu(x, s + "gate_proj", s + "down_proj", s + "up_proj", _c.SharedExpertIntermediateSize);
            double gate = 1 / (1 + Math.Exp(-MatVec(W(p + "shared_expert_gate.weight"), x, 1, x.Length)[0]));
            for (int j = 0; j < y.Length; j++) y[j] += gate * output[j];
        }
        return y;
    }

    double[] SwiGlu(double[] x, string gate, string down, string up, int inter)
    {
        double[] a = MatVec(W(gate + ".weight"), x, inter, x.Length), b = MatVec(W(up + ".weight"), x, inter, x.Length);
        for (int i = 0; i < inter; i++) a[i] = a[i] / (1 + Math.Exp(-a[i])) * b[i];
        return MatVec(W(down + ".weight"), a, x.Length, inter);
    }

    double[] Linear(string name, double[] x, int rows, bool bias)
    {
        double[] y = MatVec(W(name + ".weight"), x, rows, x.Length);
        if (bias)
        {
            float[] b = W(name + ".bias");
            for (int i = 0; i < rows; i++) y[i] += b[i];
        }
        return y;
    }

    double[] PerHead(double[] x, int heads, float[] weight)
    {
        int d = _c.HeadDimension;
        var y = new double[x.Length];
        for (int head = 0; head < heads; head++)
            Array.Copy(RmsNorm(x[(head * d)..((head + 1) * d)], weight), 0, y, head * d, d);
        return y;
    }

    double[] RmsNorm(double[] x, float[] weight) => ReferenceMath.RmsNorm(x, weight, _c.RmsNormEpsilon);
}
