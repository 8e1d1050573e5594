using System.Text;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Tokenization;
using MoeRuntime.Serving.Text;

namespace MoeRuntime.Serving.Tests.Text;

public class StopStringDetokenizerTests
{
    /// <summary>A tokenizer whose token <c>i</c> is the UTF-8 bytes of piece <c>i</c> (possibly half a character).</summary>
    sealed class BytesDecoder(IReadOnlyList<byte[]> tokens) : IStreamingDecoder
    {
        readonly Decoder _utf8 = Encoding.UTF8.GetDecoder();

        public static BytesDecoder Of(params string[] pieces) => new(pieces.Select(Encoding.UTF8.GetBytes).ToArray());

        public string Append(int id)
        {
            var chars = new char[tokens[id].Length + 2];
            int n = _utf8.GetChars(tokens[id], chars, flush: false);
            return new string(chars, 0, n);
        }

        public string Flush() => "";
    }

    /// <summary>Feeds tokens 0..count-1 (the last one with <c>last</c>) and returns each step.</summary>
    static List<TextStep> Run(StopStringDetokenizer detokenizer, int count, bool lastIsLast = false)
    {
        var steps = new List<TextStep>();
        for (int i = 0; i < count; i++)
        {
            TextStep step = detokenizer.Append(i, lastIsLast && i == count - 1);
            steps.Add(step);
            if (step.Stopped) break;
        }
        return steps;
    }

    [Fact]
    public void AStopAcrossTokenBoundariesEndsTheSequenceAtTheTokenThatCompletesItAndIsNeverEmitted()
    {
        var detokenizer = new StopStringDetokenizer(BytesDecoder.Of("Hello, wo", "rld", "!"), ["world"]);
        List<TextStep> steps = Run(detokenizer, 3);
        Assert.Equal([new TextStep("Hello, ", false), new TextStep("", true)], steps);
        Assert.True(detokenizer.Stopped);
        Assert.Equal("", detokenizer.Finish());
        Assert.Throws<InvalidOperationException>(() => detokenizer.Append(2, false));
    }

    [Fact]
    public void TextBeforeTheStopInTheCompletingTokenIsEmitted()
    {
        var detokenizer = new StopStringDetokenizer(BytesDecoder.Of("ab", "c.\nd"), ["\n"]);
        Assert.Equal([new TextStep("ab", false), new TextStep("c.", true)], Run(detokenizer, 2));
    }

    [Fact]
    public void HeldTextIsReleasedWhenItTurnsOutNotToBeAStop()
    {
        var detokenizer = new StopStringDetokenizer(BytesDecoder.Of("ab", "", "xd"), ["bc"]);
        List<TextStep> steps = Run(detokenizer, 3);
        Assert.Equal(["a", "", "bxd"], steps.Select(s => s.Text));
        Assert.All(steps, s => Assert.False(s.Stopped));
        Assert.Equal(0, detokenizer.HeldCharacters);
    }

    [Fact]
    public void TheLastTokenReleasesEverythingAndAnEndOfSequenceEndReturnsTheHeldText()
    {
        var last = new StopStringDetokenizer(BytesDecoder.Of("xab"), ["abc"]);
        Assert.Equal(new TextStep("xab", false), last.Append(0, last: true));

        var held = new StopStringDetokenizer(BytesDecoder.Of("xab"), ["abc"]);
        Assert.Equal(new TextStep("x", false), held.Append(0, last: false));
        Assert.Equal(2, held.HeldCharacters);
        Assert.Equal("ab", held.Finish());
        Assert.Equal("", held.Finish());
    }

    [Fact]
    public void TheEarliestOfSeveralStopsWins()
    {
        var detokenizer = new StopStringDetokenizer(BytesDecoder.Of("xyz-abcd"), ["cd", "b", "zzz"]);
        Assert.Equal(new TextStep("xyz-a", true), detokenizer.Append(0, false));
    }

    [Fact]
    public void ATokenThatNeedsNothingHeldIsPassedThroughWithoutACopy()
    {
        string[] pieces = ["plain text", "more"];
        var detokenizer = new StopStringDetokenizer(new PiecesDecoder(pieces), ["STOP"]);
        Assert.Same(pieces[0], detokenizer.Append(0, false).Text);
        Assert.Same(pieces[1], detokenizer.Append(1, false).Text);
    }

    [Fact]
    public void AStopStringWithMultiByteCharactersSplitAcrossTokensIsMatched()
    {
        byte[] e = Encoding.UTF8.GetBytes("é");
        byte[][] tokens = [Encoding.UTF8.GetBytes("caf"), [e[0]], [e[1], (byte)'!']];
        var detokenizer = new StopStringDetokenizer(new BytesDecoder(tokens), ["é!"]);
        Assert.Equal(["caf", "", ""], Run(detokenizer, 3).Select(s => s.Text));
        Assert.True(detokenizer.Stopped);
    }

    [Fact]
    public void ALoneHighSurrogateIsHeldUntilItsOtherHalf()
    {
        string smile = "\U0001F600";
        var detokenizer = new StopStringDetokenizer(new PiecesDecoder(["a" + smile[0], smile[1] + "b"]), ["zz"]);
        Assert.Equal(["a", smile + "b"], Run(detokenizer, 2).Select(s => s.Text));
    }

    sealed class PiecesDecoder(string[] pieces) : IStreamingDecoder
    {
        public string Append(int id) => pieces[id];
        public string Flush() => "";
    }

    [Fact]
    public void BadStopListsAreRefusedByName()
    {
        Assert.Contains("at least one", Assert.Throws<ArgumentException>(() => new StopStringDetokenizer(BytesDecoder.Of("a"), [])).Message);
        Assert.Contains("stop string 1 is empty", Assert.Throws<ArgumentException>(() => new StopStringDetokenizer(BytesDecoder.Of("a"), ["x", ""])).Message);
    }

    /// <summary>
    /// Over random token splits of random text: the sequence stops at the first token whose text completes a stop string,
    /// the client sees the text up to it, and held text never exceeds the longest stop less one.
    /// </summary>
    [Fact]
    public void RandomSplitsSeeExactlyTheTextBeforeTheFirstStop()
    {
        var random = new Random(1234);
        for (int trial = 0; trial < 2000; trial++)
        {
            string text = RandomText(random, random.Next(1, 40));
            string[] stops = Enumerable.Range(0, random.Next(1, 4)).Select(_ => RandomText(random, random.Next(1, 5))).ToArray();
            string[] pieces = Split(random, text);
            var detokenizer = new StopStringDetokenizer(new PiecesDecoder(pieces), stops);
            var seen = new StringBuilder();
            int stoppedAt = -1;
            bool endsOnEos = random.Next(2) == 0;
            for (int i = 0; i < pieces.Length; i++)
            {
                TextStep step = detokenizer.Append(i, last: !endsOnEos && i == pieces.Length - 1);
                seen.Append(step.Text);
                Assert.True(detokenizer.HeldCharacters <= stops.Max(s => s.Length) - 1, $"trial {trial}: held {detokenizer.HeldCharacters}");
                if (step.Stopped)
                {
                    stoppedAt = i;
                    break;
                }
            }
            if (endsOnEos) seen.Append(detokenizer.Finish());
            // The sequence stops at the first token after which the text holds a whole stop string; the client sees the
            // text up to the earliest stop string in it.
            string expectedText = text;
            int expected = -1;
            for (int i = 0, length = 0; i < pieces.Length; i++)
            {
                length += pieces[i].Length;
                int at = FirstStop(text[..length], stops);
                if (at < 0) continue;
                expected = i;
                expectedText = text[..at];
                break;
            }
            Assert.True(expectedText == seen.ToString(), $"trial {trial}: text {Show(text)} stops {string.Join(",", stops.Select(Show))} pieces {string.Join("|", pieces.Select(Show))} seen {Show(seen.ToString())}");
            Assert.Equal(expected, stoppedAt);
        }
    }

    /// <summary>
    /// A resumed request replays the tokens the client had: what it emits from there on is exactly what the
    /// uninterrupted run emitted after them, for every seam, so no stop is missed or re-triggered across it.
    /// </summary>
    [Fact]
    public void AReplayAtAnySeamContinuesExactlyAsTheUninterruptedRun()
    {
        var random = new Random(99);
        for (int trial = 0; trial < 300; trial++)
        {
            string text = RandomText(random, random.Next(2, 30));
            string[] stops = [RandomText(random, random.Next(2, 4)), RandomText(random, random.Next(1, 3))];
            string[] pieces = Split(random, text);
            List<TextStep> whole = Run(new StopStringDetokenizer(new PiecesDecoder(pieces), stops), pieces.Length);
            for (int seam = 1; seam < pieces.Length; seam++)
            {
                var resumed = new StopStringDetokenizer(new PiecesDecoder(pieces), stops);
                bool replayed = resumed.Replay(Enumerable.Range(0, seam));
                // The replay refuses exactly when the uninterrupted run had stopped within the replayed tokens.
                bool stoppedBefore = whole[^1].Stopped && whole.Count <= seam;
                Assert.Equal(!stoppedBefore, replayed);
                if (!replayed) continue;
                var rest = new List<TextStep>();
                for (int i = seam; i < pieces.Length; i++)
                {
                    TextStep step = resumed.Append(i, false);
                    rest.Add(step);
                    if (step.Stopped) break;
                }
                Assert.Equal(whole.Skip(seam), rest);
            }
        }
    }

    static string Show(string s) => "'" + s.Replace("\n", "N") + "'";

    static string RandomText(Random random, int length)
    {
        var chars = new char[length];
        for (int i = 0; i < length; i++) chars[i] = "ab\n"[random.Next(3)];
        return new string(chars);
    }

    static string[] Split(Random random, string text)
    {
        var pieces = new List<string>();
        for (int at = 0; at < text.Length;)
        {
            int n = Math.Min(text.Length - at, random.Next(0, 5));
            pieces.Add(text.Substring(at, n));
            at += n;
        }
        return [.. pieces];
    }

    static int FirstStop(string text, string[] stops)
    {
        int first = -1;
        foreach (string stop in stops)
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        return first;
    }
}
