namespace MoeRuntime.FrontDoor.Tests;

public sealed class StopMatcherTests
{
    static (string Text, bool Stopped) Run(string[] stops, params string[] deltas)
    {
        var m = new StopMatcher(stops);
        string text = string.Concat(deltas.Select(m.Append));
        return (text + m.Flush(), m.Stopped);
    }

    [Fact]
    public void A_stop_split_across_tokens_is_found_and_not_emitted()
    {
        Assert.Equal(("Hello wor", true), Run(["ld!"], "Hello", " wo", "rl", "d", "!", " more"));
    }

    [Fact]
    public void Text_that_only_looked_like_a_stop_is_emitted_in_order()
    {
        var m = new StopMatcher(["END"]);
        Assert.Equal("a", m.Append("aE"));
        Assert.Equal("", m.Append("N"));
        Assert.Equal("ENx", m.Append("x"));
        Assert.Equal("E", m.Append("E") + m.Flush());
        Assert.False(m.Stopped);
    }

    [Fact]
    public void The_earliest_of_several_stops_wins()
    {
        Assert.Equal(("one ", true), Run(["three", "two"], "one two three"));
    }

    [Fact]
    public void Nothing_after_a_stop_is_emitted()
    {
        var m = new StopMatcher(["\n"]);
        Assert.Equal("line", m.Append("line\nnext"));
        Assert.True(m.Stopped);
        Assert.Equal("", m.Append("more"));
        Assert.Equal("", m.Flush());
    }

    [Fact]
    public void Half_a_surrogate_pair_waits_for_its_other_half()
    {
        string emoji = "\U0001F600";
        var m = new StopMatcher(null);
        Assert.Equal("a", m.Append("a" + emoji[0]));
        Assert.Equal(emoji + "b", m.Append(emoji[1] + "b"));
    }

    [Fact]
    public void Without_stops_text_passes_through()
    {
        Assert.Equal(("abc", false), Run([], "a", "b", "c"));
    }
}
