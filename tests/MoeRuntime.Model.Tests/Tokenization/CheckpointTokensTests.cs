using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tests.Layers;
using MoeRuntime.Model.Tokenization;
using static MoeRuntime.Model.Tests.Tokenization.TinyBpeTokenizerJson;

namespace MoeRuntime.Model.Tests.Tokenization;

/// <summary>BOS/EOS as the checkpoint's files say, the tokenizer checked against the model's vocabulary, and log-probabilities.</summary>
public class CheckpointTokensTests
{
    static ModelConfig ByteLevelModel(int vocabulary) => TinyModelWeights.TinyConfig() with
    {
        VocabularySize = vocabulary, TokenizerClass = nameof(ByteLevelTokenizer), EndOfSequenceTokenIds = [],
    };

    [Fact]
    public void GenerationConfigCanListSeveralEndOfSequenceIds()
    {
        using TempDirectory checkpoint = new TempDirectory()
            .With("tokenizer.json", Create())
            .With("config.json", """{ "model_type": "qwen3_moe", "eos_token_id": 17 }""")
            .With("generation_config.json", """{ "eos_token_id": [17, 18] }""");
        ITextTokenizer tokenizer = TokenizerLoader.Load(checkpoint.Path);
        Assert.Equal([EndOfText, Think], tokenizer.EndOfSequenceIds);
    }

    [Fact]
    public void AnAbsentEosTokenIdMeansTheArchitecturesDefaultAndEndsGeneration()
    {
        using TempDirectory checkpoint = new TempDirectory()
            .With("tokenizer.json", Create())
            .With("config.json", """{ "model_type": "mixtral", "vocab_size": 32 }""")
            .With("generation_config.json", """{ "eos_token_id": 17 }""");
        ModelConfig config = ModelConfigJson.Load(checkpoint.Path);
        Assert.Equal([2], config.EndOfSequenceTokenIds);
        Assert.Equal([EndOfText, 2], TokenizerLoader.Load(checkpoint.Path, config).EndOfSequenceIds);
    }

    [Fact]
    public void AddBosTokenFalseInTokenizerConfigMeansNoBosEvenWhenConfigNamesOne()
    {
        using TempDirectory checkpoint = new TempDirectory()
            .With("tokenizer.json", Create())
            .With("config.json", """{ "model_type": "mixtral", "bos_token_id": 19 }""")
            .With("tokenizer_config.json", """{ "bos_token": "<s>", "add_bos_token": false }""");
        ITextTokenizer tokenizer = TokenizerLoader.Load(checkpoint.Path);
        Assert.Null(tokenizer.BeginOfSequenceId);
        Assert.Equal([Hello], tokenizer.Encode("hello"));
    }

    [Fact]
    public void ConfigBosIsAddedAndTheSwitchLeavesItOut()
    {
        using TempDirectory checkpoint = new TempDirectory()
            .With("tokenizer.json", Create())
            .With("config.json", """{ "model_type": "mixtral", "bos_token_id": 19 }""");
        ITextTokenizer tokenizer = TokenizerLoader.Load(checkpoint.Path);
        Assert.Equal([Bos, Hello], tokenizer.Encode("hello"));
        Assert.Equal([Hello], tokenizer.Encode("hello", addBeginOfSequence: false));
    }

    [Fact]
    public void IdsPastThePaddedTokenizerDecodeToNothingInsteadOfAbortingTheStream()
    {
        // Probe: the byte-level tokenizer threw "Token id is outside the vocabulary" half-way through a stream.
        using var checkpoint = new TempDirectory();
        ModelConfig config = ByteLevelModel(300);
        ModelConfigJson.Save(config, checkpoint.Path);
        ITextTokenizer tokenizer = TokenizerLoader.Load(checkpoint.Path, config);
        IStreamingDecoder decoder = tokenizer.CreateStreamingDecoder();
        string text = decoder.Append('h') + decoder.Append(280) + decoder.Append(ByteLevelTokenizer.TokenCount) + decoder.Append('i') + decoder.Flush();
        Assert.Equal("hi", text);
        Assert.Equal("hi", tokenizer.Decode(['h', 299, 'i']));
    }

    [Fact]
    public void ATokenizerLargerThanTheModelsVocabularyIsRefusedAtLoad()
    {
        using var checkpoint = new TempDirectory();
        ModelConfig config = ByteLevelModel(200);
        ModelConfigJson.Save(config, checkpoint.Path);
        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(checkpoint.Path, config));
        Assert.Contains("vocab_size is 200", error.Message);
        Assert.Contains("259", error.Message);
    }

    [Fact]
    public void LogprobsAreTheLogSoftmaxOfTheRawLogitsWithTheTopBestFirst()
    {
        float[] logits = [0.5f, 2f, -1f, 2f, 1f];
        double normalizer = Math.Log(logits.Sum(x => Math.Exp(x)));
        TokenLogprobs p = TokenLogprobs.Compute(logits, chosen: 4, top: 3);
        Assert.Equal(1 - normalizer, p.Chosen, 5);
        Assert.Equal([1, 3, 4], p.Top.Select(t => t.Id));
        Assert.Equal(2 - normalizer, p.Top[0].Logprob, 5);
        Assert.Empty(TokenLogprobs.Compute(logits, 0, 0).Top);
        Assert.Equal(5, TokenLogprobs.Compute(logits, 0, 10).Top.Count);
    }

    [Fact]
    public void GreedyStreamingReportsTheChosenTokensLogprobAsTheBestOne()
    {
        var weights = new TinyModelWeights(TinyModelWeights.TinyConfig() with { EndOfSequenceTokenIds = [] }, seed: 3);
        using MoeModel model = weights.BuildModel();
        var request = new GenerationRequest([3, 7, 9], new SamplingOptions { Temperature = 0, MaxTokens = 4 }) { TopLogprobs = 2 };
        StreamedToken[] tokens = new ReferenceGenerator(model).StreamTokens(request).ToArray();
        Assert.Equal(4, tokens.Length);
        foreach (StreamedToken t in tokens)
        {
            Assert.NotNull(t.Logprobs);
            Assert.Equal(t.Id, t.Logprobs.Top[0].Id);
            Assert.Equal(t.Logprobs.Top[0].Logprob, t.Logprobs.Chosen);
            Assert.True(t.Logprobs.Chosen < 0);
        }
        Assert.Equal(new ReferenceGenerator(model).Stream(request with { TopLogprobs = null }), tokens.Select(t => t.Id));
    }
}
