using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tokenization;
using static TorchSharp.torch;

namespace MoeRuntime.Model.DefaultModel;

/// <summary>
/// Generates the built-in model's weights from its recipe. Embeddings mix a direction every token
/// shares, a character-class direction and a token's own direction; each layer's gate reads the shared
/// direction with Zipf-like strengths (a few experts are popular) and the other two with a random
/// preference per expert (which experts a token picks depends on the token and its context).
/// </summary>
public static class DefaultModelWeights
{
    public static InMemoryTensorSource Generate(DefaultModelRecipe recipe)
    {
        ModelConfig c = recipe.Config;
        var random = new TokenRandom(recipe.Seed);
        int h = c.HiddenSize, v = c.VocabularySize, inter = c.ExpertIntermediateSize;
        int q = c.AttentionHeadCount * c.HeadDimension, kv = c.KeyValueHeadCount * c.HeadDimension;

        float[] shared = UnitVector(ref random, h);
        float[][] classes = Enumerable.Range(0, CharacterClasses.Count).Select(_ => UnitVector(ref random, h)).ToArray();
        var embedding = new float[v * h];
        for (int token = 0; token < v; token++)
        {
            float[] own = UnitVector(ref random, h);
            float[] cls = classes[(int)CharacterClasses.Of(token)];
            for (int i = 0; i < h; i++)
                embedding[token * h + i] = (float)(recipe.SharedDirection * shared[i] + recipe.ClassDirection * cls[i] + recipe.TokenDirection * own[i]);
        }
        double embeddingRms = Math.Sqrt(recipe.SharedDirection * recipe.SharedDirection + recipe.ClassDirection * recipe.ClassDirection
            + recipe.TokenDirection * recipe.TokenDirection) / Math.Sqrt(h);

        var names = new CheckpointTensorNames(c.Architecture);
        var source = new InMemoryTensorSource();
        var dtype = ScalarType.BFloat16;
        void Add(string name, float[] data, params long[] shape)
        {
            using Tensor full = tensor(data, shape);
            source.Add(name, full.to(dtype));
        }
        float[] Normal(double std, int count)
        {
            var data = new float[count];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(Gaussian(ref random) * std);
            return data;
        }
        float[] Ones(int count) => Enumerable.Repeat(1f, count).ToArray();

        Add(CheckpointTensorNames.Embedding, embedding, v, h);
        for (int layer = 0; layer < c.LayerCount; layer++)
        {
            Add(CheckpointTensorNames.InputNorm(layer), Ones(h), h);
            Add(CheckpointTensorNames.PostAttentionNorm(layer), Ones(h), h);
            Add(CheckpointTensorNames.Attention(layer, 'q'), Normal(1 / Math.Sqrt(h), q * h), q, h);
            Add(CheckpointTensorNames.Attention(layer, 'k'), Normal(1 / Math.Sqrt(h), kv * h), kv, h);
            Add(CheckpointTensorNames.Attention(layer, 'v'), Normal(1 / Math.Sqrt(h), kv * h), kv, h);
            // Normalised inputs have unit RMS; this keeps attention's share of the residual at AttentionOutput.
            Add(CheckpointTensorNames.Attention(layer, 'o'), Normal(recipe.AttentionOutput * embeddingRms / Math.Sqrt(q), h * q), h, q);
            Add(names.Gate(layer), Gate(ref random, recipe, shared, h), c.ExpertCount, h);
            for (int e = 0; e < c.ExpertCount; e++)
            {
                var (w1, w2, w3) = names.Expert(layer, e);
                Add(w1, Normal(1 / Math.Sqrt(h), inter * h), inter, h);
                Add(w3, Normal(1 / Math.Sqrt(h), inter * h), inter, h);
                Add(w2, Normal(0.5 * embeddingRms / Math.Sqrt(inter), h * inter), h, inter);
            }
        }
        Add(CheckpointTensorNames.FinalNorm, Ones(h), h);
        Add(CheckpointTensorNames.LmHead, LmHead(ref random, shared, classes, v, h), v, h);
        return source;
    }

    /// <summary>Rows: popularity along the shared direction (ranks shuffled per layer) plus a random preference.</summary>
    static float[] Gate(ref TokenRandom random, DefaultModelRecipe recipe, float[] shared, int h)
    {
        int experts = recipe.Config.ExpertCount;
        int[] rank = Enumerable.Range(0, experts).ToArray();
        for (int i = experts - 1; i > 0; i--)
        {
            int j = (int)(random.NextUInt64() % (ulong)(i + 1));
            (rank[i], rank[j]) = (rank[j], rank[i]);
        }
        var gate = new float[experts * h];
        for (int e = 0; e < experts; e++)
        {
            float[] preference = UnitVector(ref random, h);
            RemoveComponent(preference, shared);
            double popularity = -recipe.Popularity * Math.Log(rank[e] + 1);
            for (int i = 0; i < h; i++)
                gate[e * h + i] = (float)(popularity * shared[i] + recipe.Preference * preference[i]);
        }
        return gate;
    }

    /// <summary>
    /// Output rows favour printable text: letters and spaces along the shared direction, control bytes
    /// against it, and spaces after letters rather than after spaces, so that samples look like words.
    /// </summary>
    static float[] LmHead(ref TokenRandom random, float[] shared, float[][] classes, int v, int h)
    {
        var head = new float[v * h];
        float[] lower = classes[(int)CharacterClass.Lowercase], space = classes[(int)CharacterClass.Space];
        for (int token = 0; token < v; token++)
        {
            double bias = token switch
            {
                ByteLevelTokenizer.EndOfSequenceTokenId => -0.1,
                ' ' => 0.3,
                '.' or ',' => 0.05,
                _ => CharacterClasses.Of(token) switch
                {
                    CharacterClass.Lowercase => 0.3,
                    CharacterClass.Uppercase => 0.0,
                    CharacterClass.Punctuation or CharacterClass.Digit => -0.2,
                    _ => -1.0,
                },
            };
            double afterLetter = token == ' ' ? 0.12 : 0, afterSpace = token == ' ' ? -0.8 : CharacterClasses.Of(token) == CharacterClass.Lowercase ? 0.3 : 0;
            for (int i = 0; i < h; i++)
                head[token * h + i] = (float)(Gaussian(ref random) * 0.5 / Math.Sqrt(h) + bias * shared[i] + afterLetter * lower[i] + afterSpace * space[i]);
        }
        return head;
    }

    /// <summary>Keeps the preference off the shared direction, so that only Popularity sets how popular an expert is.</summary>
    static void RemoveComponent(float[] vector, float[] unitDirection)
    {
        double dot = 0;
        for (int i = 0; i < vector.Length; i++) dot += vector[i] * unitDirection[i];
        for (int i = 0; i < vector.Length; i++) vector[i] -= (float)(dot * unitDirection[i]);
    }

    static float[] UnitVector(ref TokenRandom random, int size)
    {
        var vector = new float[size];
        double norm = 0;
        for (int i = 0; i < size; i++)
        {
            vector[i] = (float)Gaussian(ref random);
            norm += vector[i] * vector[i];
        }
        float scale = (float)(1 / Math.Sqrt(norm));
        for (int i = 0; i < size; i++) vector[i] *= scale;
        return vector;
    }

    static double Gaussian(ref TokenRandom random)
    {
        double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
