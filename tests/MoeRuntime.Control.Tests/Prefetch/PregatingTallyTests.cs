using MoeRuntime.Control.Prefetch;
using MoeRuntime.Telemetry.Aggregation;

namespace MoeRuntime.Control.Tests.Prefetch;

public class PregatingTallyTests
{
    sealed class Recorder : IPregatingRecorder
    {
        public List<(int Layer, int Lookahead, int Predicted, int Actual, int Hits)> Scores { get; } = [];
        public void Scored(int layer, int lookahead, int predicted, int actual, int hits) => Scores.Add((layer, lookahead, predicted, actual, hits));
    }

    [Fact]
    public void APredictionIsScoredAgainstTheLayersNextChoiceByLayerAndLookahead()
    {
        var recorder = new Recorder();
        var tally = new PregatingTally(layers: 4, experts: 8, maxLookahead: 2, recorder);
        tally.Chosen(0, [1, 5]);
        tally.Predicted(0, 1, [2, 3, 5]);
        tally.Predicted(0, 2, [4]);
        tally.Chosen(1, [3, 5, 3]);          // predicted {2,3,5}, chose {3,5}: 2 hits
        tally.Predicted(1, 2, [4, 6]);
        tally.Predicted(1, 3, [0]);
        tally.Chosen(2, [6, 7]);             // lookahead 1: {4,6} vs {6,7}: 1 hit; lookahead 2: {4}: 0 hits
        tally.Chosen(3, [1, 0]);             // lookahead 1 (from 2) none pending; lookahead 2 (from 1): {0}: 1 hit

        Assert.Equal([(1, 1, 3, 2, 2), (2, 1, 2, 2, 1), (2, 2, 1, 2, 0), (3, 2, 1, 2, 1)], recorder.Scores);
        Assert.Equal(
            [new PregatingAccuracy(1, 1, 3, 2, 2), new PregatingAccuracy(2, 1, 2, 2, 1), new PregatingAccuracy(2, 2, 1, 2, 0), new PregatingAccuracy(3, 2, 1, 2, 1)],
            tally.Totals());
        PregatingAccuracy first = tally.Totals()[0];
        Assert.Equal(2.0 / 3, first.Precision, 12);
        Assert.Equal(1.0, first.Recall, 12);
    }

    [Fact]
    public void TotalsAddUpOverStepsAndAPredictionIsScoredOnce()
    {
        var tally = new PregatingTally(2, 4, 1);
        for (int step = 0; step < 3; step++)
        {
            tally.Chosen(0, [0]);
            tally.Predicted(0, 1, [1, 2]);
            tally.Chosen(1, [2, 3]);
            tally.Chosen(1, [2, 3]);         // a second choice with nothing pending scores nothing
        }
        Assert.Equal([new PregatingAccuracy(1, 1, 6, 6, 3)], tally.Totals());
    }

    [Fact]
    public void APredictionWhoseLayerNeverGatedIsDroppedWhenTheNextStepStarts()
    {
        var tally = new PregatingTally(3, 4, 2);
        tally.Chosen(0, [0]);
        tally.Predicted(0, 1, [1]);
        tally.Predicted(0, 2, [2]);
        // The step fails before layer 1 gates; the next one starts at layer 0.
        tally.Chosen(0, [0]);
        tally.Chosen(1, [1]);
        tally.Chosen(2, [2]);
        Assert.Empty(tally.Totals());
    }

    [Fact]
    public void PredictionsFurtherAheadThanTheBoundAreIgnored()
    {
        var tally = new PregatingTally(4, 4, 1);
        tally.Chosen(0, [0]);
        tally.Predicted(0, 2, [1]);
        tally.Chosen(1, [1]);
        tally.Chosen(2, [1]);
        Assert.Empty(tally.Totals());
    }

    [Fact]
    public void BadInputIsRefusedWithWhatIsWrong()
    {
        var tally = new PregatingTally(2, 4, 2);
        Assert.Contains("4 experts", Assert.Throws<ArgumentOutOfRangeException>(() => tally.Predicted(0, 1, [4])).Message);
        Assert.Contains("4 experts", Assert.Throws<ArgumentOutOfRangeException>(() => tally.Chosen(1, [-1])).Message);
        Assert.Contains("2 layers", Assert.Throws<ArgumentOutOfRangeException>(() => tally.Chosen(2, [0])).Message);
        Assert.Contains("not ahead", Assert.Throws<ArgumentException>(() => tally.Predicted(1, 1, [0])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PregatingTally(0, 4, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PregatingTally(2, 4, 0));
    }
}
