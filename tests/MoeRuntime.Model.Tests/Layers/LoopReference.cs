using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Loading;
using static MoeRuntime.Model.Tests.ReferenceMath;

namespace MoeRuntime.Model.Tests.Layers;

/// <summary>
/// The decoder written as plain loops over float arrays, in double precision, straight from the
/// Mixtral / Qwen2-MoE / OLMoE definitions: the independent check of the TorchSharp implementation.
/// </summary>
sealed class LoopReference(TinyModelWeights weights)
{
    readonly ModelConfig _c = weights.Config;
    readonly CheckpointTensorNames _names = new(weights.Config.Architecture);

    float[] W(string name) => weights.Arrays[name];

    /// <summary>Logits [tokens][vocab] for every position of the sequence.</summary>
    public double[][] Logits(int[] tokens, List<(int[] Experts, double[] Weights)[]>? routing = null)
    {
        int n = tokens.Length, h = _c.HiddenSize;
        var x = new double[n][];
        for (int t = 0; t < n; t++) x[t] = Row(W(CheckpointTensorNames.Embedding), tokens[t], h);
        for (int l = 0; l < _c.LayerCount; l++)
        {
            double[][] attn = AttentionLayer(l, x.Select(r => Norm(r, W(CheckpointTensorNames.InputNorm(l)))).ToArray());
            for (int t = 0; t < n; t++) Add(x[t], attn[t]);
            var layerRouting = new (int[], double[])[n];
            for (int t = 0; t < n; t++)
            {
                double[] normed = Norm(x[t], W(CheckpointTensorNames.PostAttentionNorm(l)));
                Add(x[t], MoeLayer(l, normed, out layerRouting[t]));
            }
            routing?.Add(layerRouting);
        }
        string head = _c.TieWordEmbeddings ? CheckpointTensorNames.Embedding : CheckpointTensorNames.LmHead;
        return x.Select(r => MatVec(W(head), Norm(r, W(CheckpointTensorNames.FinalNorm)), _c.VocabularySize, h)).ToArray();
    }

    double[][] AttentionLayer(int l, double[][] x)
    {
        int n = x.Length, d = _c.HeadDimension, heads = _c.AttentionHeadCount, kvHeads = _c.KeyValueHeadCount;
        int qDim = heads * d, kvDim = kvHeads * d;
        var q = new double[n][]; var k = new double[n][]; var v = new double[n][];
        for (int t = 0; t < n; t++)
        {
            q[t] = Project(l, 'q', x[t], qDim);
            k[t] = Project(l, 'k', x[t], kvDim);
            v[t] = Project(l, 'v', x[t], kvDim);
            if (_c.QueryKeyNorm)
            {
                q[t] = Norm(q[t], W(CheckpointTensorNames.AttentionNorm(l, 'q')));
                k[t] = Norm(k[t], W(CheckpointTensorNames.AttentionNorm(l, 'k')));
            }
            Rotate(q[t], heads, t);
            Rotate(k[t], kvHeads, t);
        }
        var output = new double[n][];
        for (int t = 0; t < n; t++)
        {
            var concat = new double[qDim];
            for (int head = 0; head < heads; head++)
            {
                int kvHead = head / (heads / kvHeads);
                var scores = new double[t + 1];
                for (int s = 0; s <= t; s++)
                {
                    double dot = 0;
                    for (int j = 0; j < d; j++) dot += q[t][head * d + j] * k[s][kvHead * d + j];
                    scores[s] = dot / Math.Sqrt(d);
                }
                double[] p = Softmax(scores);
                for (int s = 0; s <= t; s++)
                    for (int j = 0; j < d; j++) concat[head * d + j] += p[s] * v[s][kvHead * d + j];
            }
            output[t] = MatVec(W(CheckpointTensorNames.Attention(l, 'o')), concat, _c.HiddenSize, qDim);
        }
        return output;
    }

    double[] Project(int l, char p, double[] x, int rows)
    {
        double[] y = MatVec(W(CheckpointTensorNames.Attention(l, p)), x, rows, x.Length);
        if (_c.AttentionBias)
        {
            float[] b = W(CheckpointTensorNames.AttentionBias(l, p));
            for (int i = 0; i < rows; i++) y[i] += b[i];
        }
        return y;
    }

    void Rotate(double[] x, int heads, int position)
    {
        int d = _c.HeadDimension, half = d / 2;
        for (int head = 0; head < heads; head++)
            for (int i = 0; i < half; i++)
            {
                double angle = position / Math.Pow(_c.RopeTheta, 2.0 * i / d);
                double a = x[head * d + i], b = x[head * d + i + half];
                x[head * d + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                x[head * d + i + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
            }
    }

    double[] MoeLayer(int l, double[] x, out (int[] Experts, double[] Weights) routing)
    {
        double[] p = Softmax(MatVec(W(_names.Gate(l)), x, _c.ExpertCount, x.Length));
        int[] chosen = Enumerable.Range(0, p.Length).OrderByDescending(e => p[e]).ThenBy(e => e).Take(_c.ExpertsPerToken).ToArray();
        double[] w = chosen.Select(e => p[e]).ToArray();
        if (_c.NormalizeTopKProbabilities)
        {
            double sum = w.Sum();
            for (int i = 0; i < w.Length; i++) w[i] /= sum;
        }
        routing = (chosen, w);
        var y = new double[x.Length];
        for (int i = 0; i < chosen.Length; i++)
        {
            var (w1, w2, w3) = _names.Expert(l, chosen[i]);
            double[] e = SwiGlu(x, W(w1), W(w2), W(w3), _c.ExpertIntermediateSize);
            for (int j = 0; j < y.Length; j++) y[j] += w[i] * e[j];
        }
        if (_c.SharedExpertIntermediateSize > 0)
        {
            var (w1, w2, w3) = _names.SharedExpert(l);
            double[] e = SwiGlu(x, W(w1), W(w2), W(w3), _c.SharedExpertIntermediateSize);
            double g = 1 / (1 + Math.Exp(-MatVec(W(_names.SharedExpertGate(l)), x, 1, x.Length)[0]));
            for (int j = 0; j < y.Length; j++) y[j] += g * e[j];
        }
        return y;
    }

    static double[] SwiGlu(double[] x, float[] w1, float[] w2, float[] w3, int inter)
    {
        double[] a = MatVec(w1, x, inter, x.Length), b = MatVec(w3, x, inter, x.Length);
        for (int i = 0; i < inter; i++) a[i] = a[i] / (1 + Math.Exp(-a[i])) * b[i];
        return MatVec(w2, a, x.Length, inter);
    }

    double[] Norm(double[] x, float[] weight) => ReferenceMath.RmsNorm(x, weight, _c.RmsNormEpsilon);

    static double[] Row(float[] w, int row, int cols) => Enumerable.Range(0, cols).Select(c => (double)w[row * cols + c]).ToArray();
}
