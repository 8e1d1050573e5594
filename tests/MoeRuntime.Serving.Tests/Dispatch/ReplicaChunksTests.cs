using MoeRuntime.Serving.Dispatch;

namespace MoeRuntime.Serving.Tests.Dispatch;

public class ReplicaChunksTests
{
    [Theory]
    [InlineData(3, 7, new[] { 3, 2, 2 })]
    [InlineData(2, 8, new[] { 4, 4 })]
    [InlineData(4, 2, new[] { 1, 1 })]
    [InlineData(3, 1, new[] { 1 })]
    [InlineData(1, 5, new[] { 5 })]
    public void RowsAreSplitIntoContiguousChunksTheFirstOnesLonger(int replicas, int rows, int[] expected)
    {
        int parts = ReplicaChunks.Parts(replicas, rows);
        Assert.Equal(expected, Enumerable.Range(0, parts).Select(part => ReplicaChunks.RowsOf(rows, parts, part)));
    }

    [Fact]
    public void AChunkOutsideTheSplitOrNoReplicaIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ReplicaChunks.RowsOf(7, 3, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReplicaChunks.RowsOf(7, 3, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReplicaChunks.Parts(0, 7));
    }

    [Fact]
    public void SplittingAndJoiningGivesBackTheWholeInRowOrder()
    {
        const int Rows = 7, RowBytes = 8;
        byte[] whole = Enumerable.Range(0, Rows * RowBytes).Select(i => (byte)i).ToArray();
        int parts = ReplicaChunks.Parts(3, Rows);
        var chunks = new List<byte[]>();
        for (int part = 0, row = 0; part < parts; part++)
        {
            int rows = ReplicaChunks.RowsOf(Rows, parts, part);
            chunks.Add(whole.AsSpan(row * RowBytes, rows * RowBytes).ToArray());
            row += rows;
        }
        Assert.Equal(whole, ReplicaChunks.Join(chunks, whole.Length));
    }

    [Fact]
    public void ChunksThatDoNotMakeTheWholeAreRefused()
    {
        Assert.Contains("3 bytes, the whole 4", Assert.Throws<ArgumentException>(() => ReplicaChunks.Join([[1, 2], [3]], 4)).Message);
        Assert.Contains("more than the 2 bytes", Assert.Throws<ArgumentException>(() => ReplicaChunks.Join([[1, 2], [3]], 2)).Message);
    }

    [Fact]
    public void EachExpertsReplicasTakeTheFirstChunkInTurn()
    {
        var turns = new ReplicaTurns(2);
        Assert.Equal([1, 2, 0, 1], Enumerable.Range(0, 4).Select(_ => turns.Next(0, 3)));
        Assert.Equal([1, 0], Enumerable.Range(0, 2).Select(_ => turns.Next(1, 2)));
        Assert.Equal(2, turns.Next(0, 3));
    }
}
