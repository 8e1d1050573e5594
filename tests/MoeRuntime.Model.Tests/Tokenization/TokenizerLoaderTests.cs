using MoeRuntime.Model.Tokenization;
using static MoeRuntime.Model.Tests.Tokenization.TinyBpeTokenizerJson;

namespace MoeRuntime.Model.Tests.Tokenization;

public class TokenizerLoaderTests
{
    private const string LlamaStyleConfig = """{ "bos_token": "<s>", "add_bos_token": true, "eos_token": "<|endoftext|>" }""";

    [Theory]
    [InlineData(GptStylePreTokenizer)]
    [InlineData(QwenStylePreTokenizer)]
    public void HandMadeBpeEncodesBySpelledOutMerges(string preTokenizer)
    {
        using TempDirectory checkpoint = new TempDirectory()
            .With("tokenizer.json", Create(preTokenizer))
            .With("tokenizer_config.json", LlamaStyleConfig);

        ITextTokenizer tokenizer = TokenizerLoader.Load(checkpoint.Path);

        // "hello": h e → he; l l → ll; ll o → llo; he llo → hello.
        // " world": Ġ w → Ġw; o r → or; Ġw or → Ġwor; "l" and "d" have no merge.
        Assert.Equal([Bos, Hello, SpaceWor, L, D, EndOfText], tokenizer.Encode("hello world<|endoftext|>"));
        // 'é' is two bytes with no merge between them, so "héllo" keeps them as separate tokens.
        Assert.Equal([H, ByteC3, ByteA9, Llo], tokenizer.Encode("héllo", addBeginOfSequence: false));
    }

    [Fact]
    public void APreTokenizerRegexRunningPastItsTimeoutThrowsInsteadOfHoldingTheThread()
    {
        // Nested quantifiers: exponential backtracking on a run of 'a' that does not end the text.
        const string Catastrophic =
            """
            { "type": "Sequence", "pretokenizers": [
                { "type": "Split", "pattern": { "Regex": "(a+)+$" }, "behavior": "Isolated", "invert": false },
                { "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false } ] }
            """;
        using TempDirectory checkpoint = new TempDirectory()
            .With("tokenizer.json", Create(Catastrophic))
            .With("tokenizer_config.json", LlamaStyleConfig);

        ITextTokenizer tokenizer = TokenizerLoader.Load(checkpoint.Path, TimeSpan.FromMilliseconds(50));

        var error = Assert.Throws<System.Text.RegularExpressions.RegexMatchTimeoutException>(() => tokenizer.Encode(new string('a', 64) + "!"));
        Assert.Equal(TimeSpan.FromMilliseconds(50), error.MatchTimeout);
    }

    [Fact]
    public void HandMadeBpeDecodesSkippingOnlySpecialAddedTokens()
    {
        using TempDirectory checkpoint = new TempDirectory()
            .With("tokenizer.json", Create())
            .With("tokenizer_config.json", LlamaStyleConfig);

        ITextTokenizer tokenizer = TokenizerLoader.Load(checkpoint.Path);

        Assert.Equal("hello world", tokenizer.Decode([Bos, Hello, SpaceWor, L, D, EndOfText]));
        Assert.Equal("hello<think> w", tokenizer.Decode([Hello, Think, SpaceW]));
        Assert.Equal(20, tokenizer.VocabularySize);
        Assert.Equal(Bos, tokenizer.BeginOfSequenceId);
        Assert.Equal([EndOfText], tokenizer.EndOfSequenceIds);
    }

    [Fact]
    public void HandMadeBpeStreamsACharacterSplitAcrossTokensOnce()
    {
        using TempDirectory checkpoint = new TempDirectory().With("tokenizer.json", Create());
        IStreamingDecoder decoder = TokenizerLoader.Load(checkpoint.Path).CreateStreamingDecoder();

        string[] pieces = [decoder.Append(H), decoder.Append(ByteC3), decoder.Append(ByteA9), decoder.Append(Llo)];

        Assert.Equal(["h", "", "é", "llo"], pieces);
    }

    [Fact]
    public void QwenStyleConfigsGiveNoBosAndEveryListedEos()
    {
        using TempDirectory checkpoint = new TempDirectory()
            .With("tokenizer.json", Create())
            .With("tokenizer_config.json", """{ "bos_token": null, "eos_token": "<|endoftext|>" }""")
            .With("config.json", $$"""{ "bos_token_id": {{Bos}}, "eos_token_id": [{{EndOfText}}, {{Think}}] }""");

        ITextTokenizer tokenizer = TokenizerLoader.Load(checkpoint.Path);

        Assert.Null(tokenizer.BeginOfSequenceId);
        Assert.Equal([EndOfText, Think], tokenizer.EndOfSequenceIds);
        Assert.Equal([Hello], tokenizer.Encode("hello"));
    }

    [Fact]
    public void MalformedTokenizerJsonNamesTheFile()
    {
        using TempDirectory checkpoint = new TempDirectory().With("tokenizer.json", """{ "model": { "type": "BPE", """);

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(checkpoint.Path));

        Assert.Equal(checkpoint.File("tokenizer.json"), error.FilePath);
        Assert.Contains("tokenizer.json", error.Message);
        Assert.Contains("not valid JSON", error.Message);
    }

    [Fact]
    public void UnsupportedModelTypeIsNamed()
    {
        using TempDirectory checkpoint = new TempDirectory().With("tokenizer.json", Create(modelType: "WordPiece"));

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(checkpoint.Path));

        Assert.Contains("tokenizer.json", error.Message);
        Assert.Contains("model.type \"WordPiece\" is not supported", error.Message);
    }

    [Fact]
    public void SentencePieceStyleBpeIsRejectedClearly()
    {
        string json = Create().Replace("\"byte_fallback\": false", "\"byte_fallback\": true");
        using TempDirectory checkpoint = new TempDirectory().With("tokenizer.json", json);

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(checkpoint.Path));

        Assert.Contains("byte_fallback", error.Message);
    }

    [Fact]
    public void DirectoryWithoutTokenizerFilesUsesByteLevel()
    {
        using TempDirectory checkpoint = new();

        Assert.IsType<ByteLevelTokenizer>(TokenizerLoader.Load(checkpoint.Path));
    }

    [Fact]
    public void ConfigNamingByteLevelTokenizerUsesByteLevel()
    {
        using TempDirectory checkpoint = new TempDirectory()
            .With("config.json", """{ "tokenizer_class": "ByteLevelTokenizer", "vocab_size": 259 }""");

        Assert.IsType<ByteLevelTokenizer>(TokenizerLoader.Load(checkpoint.Path));
    }

    [Fact]
    public void ConfigNamingAnotherTokenizerWithoutFilesFails()
    {
        using TempDirectory checkpoint = new TempDirectory()
            .With("config.json", """{ "tokenizer_class": "LlamaTokenizer" }""");

        var error = Assert.Throws<TokenizerFormatException>(() => TokenizerLoader.Load(checkpoint.Path));

        Assert.Equal(checkpoint.File("config.json"), error.FilePath);
        Assert.Contains("LlamaTokenizer", error.Message);
    }
}
