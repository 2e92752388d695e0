using HeadWise.Tokenizers;

namespace HeadWise.Analysis;

/// <summary>Probe documents: consecutive equal-length token windows of a text, each starting with BOS when the vocabulary has one.</summary>
public static class ProbeSet
{
    /// <summary>A short built-in text for when no probe file is given.</summary>
    public const string DefaultText =
        "Once upon a time there was a little girl named Lily. She liked to play in the park with her big red ball. " +
        "One day the sun was hot and the sky was blue. Lily saw a small dog under a tree. The dog was sad because it was lost. " +
        "Lily gave the dog some water and they played together all day. When it was time to go home, the dog followed her. " +
        "Her mom said the dog could stay. Lily was very happy. She named the dog Max and they became best friends. " +
        "The next morning Tom came to visit. Tom had a toy boat and a blue kite. They went to the pond to sail the boat. " +
        "The wind was strong and the kite flew high. Max barked at the ducks and the ducks swam away. Everyone laughed. " +
        "At night Lily read a book about the moon and the stars. She dreamed of flying to the moon with Max and Tom. " +
        "In the dream the moon was made of cheese and the stars sang songs. When she woke up she told her mom all about it.";

    public static List<int[]> FromText(string text, ITokenizer tokenizer, int documents, int length)
    {
        if (documents < 1 || length < 2) throw new HeadWiseException($"probe set needs >= 1 document of >= 2 tokens (got {documents} x {length})");
        // Tokenise only what the documents can use (a few characters per token at most) so a whole book stays cheap.
        long chars = (long)documents * length * 16;
        var ids = tokenizer.Encode(text.Length > chars ? text[..(int)chars] : text, false);
        int? bos = tokenizer.BosId;
        int body = bos is null ? length : length - 1;
        int available = ids.Count / body;
        if (available < 1) throw new HeadWiseException($"the probe text has {ids.Count} tokens; at least {body} are needed for one {length}-token document");
        return Enumerable.Range(0, Math.Min(documents, available))
            .Select(d => (bos is null ? [] : new[] { bos.Value }).Concat(ids.Skip(d * body).Take(body)).ToArray()).ToList();
    }
}
