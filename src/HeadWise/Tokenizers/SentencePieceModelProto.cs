using System.Text;

namespace HeadWise.Tokenizers;

/// <summary>
/// Writes the few fields of a SentencePiece ModelProto (sentencepiece_model.proto, proto2) that
/// Microsoft.ML.Tokenizers reads, so that a vocabulary given as plain arrays can be handed to its LlamaTokenizer.
/// Hand-written wire format: it is a handful of fields and needs no generated code.
/// </summary>
internal static class SentencePieceModelProto
{
    private const int Varint = 0, Fixed32 = 5, LengthDelimited = 2;

    public static byte[] Build(IReadOnlyList<string> pieces, IReadOnlyList<float> scores, IReadOnlyList<TokenType> types,
        int unkId, int bosId, int eosId, bool byteFallback, bool addDummyPrefix)
    {
        var model = new MemoryStream();
        for (int i = 0; i < pieces.Count; i++)
        {
            var piece = new MemoryStream();
            WriteString(piece, 1, pieces[i]);
            WriteTag(piece, 2, Fixed32);
            piece.Write(BitConverter.GetBytes(scores[i]));  // little-endian on every platform .NET runs on here
            WriteInt(piece, 3, (int)(types[i] == TokenType.Undefined ? TokenType.Normal : types[i]));
            WriteMessage(model, 1, piece);
        }

        var trainer = new MemoryStream();
        WriteInt(trainer, 3, 2);                 // model_type = BPE
        WriteInt(trainer, 4, pieces.Count);      // vocab_size
        WriteInt(trainer, 35, byteFallback ? 1 : 0);
        WriteInt(trainer, 40, unkId);
        WriteInt(trainer, 41, bosId);
        WriteInt(trainer, 42, eosId);
        WriteInt(trainer, 43, -1);               // pad_id: none
        if (unkId >= 0) WriteString(trainer, 45, pieces[unkId]);
        if (bosId >= 0) WriteString(trainer, 46, pieces[bosId]);
        if (eosId >= 0) WriteString(trainer, 47, pieces[eosId]);
        WriteMessage(model, 2, trainer);

        var normalizer = new MemoryStream();
        WriteString(normalizer, 1, "identity");
        WriteInt(normalizer, 3, addDummyPrefix ? 1 : 0);
        WriteInt(normalizer, 4, 0);              // remove_extra_whitespaces = false: llama.cpp keeps every space
        WriteInt(normalizer, 5, 1);              // escape_whitespaces: ' ' -> U+2581
        WriteMessage(model, 3, normalizer);

        return model.ToArray();
    }

    private static void WriteTag(Stream s, int field, int wireType) => WriteVarint(s, (ulong)((field << 3) | wireType));

    // proto2 int32/enum/bool: negative values are sign-extended to 64 bits (10 bytes).
    private static void WriteInt(Stream s, int field, int value) { WriteTag(s, field, Varint); WriteVarint(s, (ulong)(long)value); }

    private static void WriteString(Stream s, int field, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        WriteTag(s, field, LengthDelimited);
        WriteVarint(s, (ulong)bytes.Length);
        s.Write(bytes);
    }

    private static void WriteMessage(Stream s, int field, MemoryStream message)
    {
        WriteTag(s, field, LengthDelimited);
        WriteVarint(s, (ulong)message.Length);
        message.Position = 0;
        message.CopyTo(s);
    }

    private static void WriteVarint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }
}
