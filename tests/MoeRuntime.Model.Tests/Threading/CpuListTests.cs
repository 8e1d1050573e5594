using MoeRuntime.Model.Threading;

namespace MoeRuntime.Model.Tests.Threading;

public class CpuListTests
{
    [Theory]
    [InlineData("0", new[] { 0 })]
    [InlineData("2-3", new[] { 2, 3 })]
    [InlineData("0,4-6", new[] { 0, 4, 5, 6 })]
    [InlineData(" 5 , 1-2,2 ", new[] { 1, 2, 5 })]
    [InlineData("1023", new[] { 1023 })]
    public void ParsesTasksetLists(string text, int[] expected) => Assert.Equal(expected, CpuList.Parse(text));

    [Theory]
    [InlineData("", "at least one CPU")]
    [InlineData(" ", "at least one CPU")]
    [InlineData("a", "'a' in CPU list 'a' is not a CPU id")]
    [InlineData("-1", "'' in CPU list '-1' is not a CPU id")]
    [InlineData("3-1", "runs backwards")]
    [InlineData("1024", "'1024' in CPU list '1024' is not a CPU id from 0 to 1023")]
    [InlineData("0,,1", "'' in CPU list '0,,1'")]
    [InlineData("0x1", "'0x1'")]
    [InlineData("+1", "'+1'")]
    public void RefusesAnythingElseSayingWhat(string text, string message) =>
        Assert.Contains(message, Assert.Throws<FormatException>(() => CpuList.Parse(text)).Message);

    [Theory]
    [InlineData("0")]
    [InlineData("0-3")]
    [InlineData("0,2-3,7")]
    public void FormatsBackToTheSameList(string text) => Assert.Equal(text, CpuList.Format(CpuList.Parse(text)));

    [Fact]
    public void PinsOnlyTheCallingThreadAndPutsItsCpusBack()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Throws<PlatformNotSupportedException>(() => CpuList.PinCurrentThread([0]));
            return;
        }
        int[] seen = null!, pinned = null!, restored = null!, otherThread = null!, beforeOther = null!;
        // A thread of its own, so the test runner's threads keep their CPUs whatever happens here.
        var thread = new Thread(() =>
        {
            seen = CpuList.OfCurrentThread();
            var before = new Thread(() => beforeOther = CpuList.OfCurrentThread());
            before.Start();
            before.Join();
            using (CpuList.PinnedWhile([seen[^1]]))
            {
                pinned = CpuList.OfCurrentThread();
                var other = new Thread(() => otherThread = CpuList.OfCurrentThread());
                other.Start();
                other.Join();
            }
            restored = CpuList.OfCurrentThread();
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)));
        Assert.NotEmpty(seen);
        Assert.Equal([seen[^1]], pinned);
        // Only the calling thread: a .NET thread it starts meanwhile runs where threads started before it do.
        Assert.Equal(beforeOther, otherThread);
        Assert.Equal(seen, restored);
        Assert.Null(CpuList.PinnedWhile(null));
    }

    [Fact]
    public void ACpuTheMachineLacksIsRefusedWithTheReason()
    {
        if (!OperatingSystem.IsLinux()) return;
        Exception? refused = null;
        var thread = new Thread(() => refused = Record.Exception(() => CpuList.PinCurrentThread([CpuList.MaxCpu])));
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)));
        Assert.Contains("refused to pin a thread to CPUs 1023", Assert.IsType<InvalidOperationException>(refused).Message);
    }
}
