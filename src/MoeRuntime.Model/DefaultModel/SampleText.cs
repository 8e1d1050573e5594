namespace MoeRuntime.Model.DefaultModel;

/// <summary>Plain English prose for measuring routing without shipping a data set.</summary>
public static class SampleText
{
    public const string English =
        "A mixture of experts replaces one large feed-forward layer with many smaller ones and a router that " +
        "picks a few of them for every token. Most of the model's weights sit in those experts, yet each token " +
        "touches only a small part of them, which is why the experts can live in different places: some on the " +
        "accelerator, ready at once, some in host memory, one copy away, and the rest on disk. A runtime that " +
        "serves such a model has to guess which experts the next tokens will need, move them before they are " +
        "asked for, and keep the popular ones close. The guess is easier than it sounds. In real traces a few " +
        "experts in every layer take most of the tokens, and a token often reuses some of the experts its " +
        "neighbour used. When the guess is wrong, the request waits while an expert is read from a slower tier, " +
        "and the time it waits is the number an operator watches. Counting hits and misses per tier, measuring " +
        "how long each fetch takes, and comparing what was prefetched with what was used tells the operator " +
        "where the memory should go. On a cluster the picture is wider: every rank keeps its own counts, ships " +
        "a compact summary every second, and an aggregator merges them into one view that controllers read " +
        "before they move experts between tiers. The numbers must be cheap to collect, exact to merge and safe " +
        "to show, because the people who read them decide what hardware to buy.";
}
