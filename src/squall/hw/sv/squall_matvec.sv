module squall_matvec (
    input  wire                 clk,
    input  wire                 rst,        // synchronous, active high
    input  wire                 start,      // in idle: begin a mat-vec of `layer`
    input  wire [@LB@-1:0]      layer,      // the bundle's layer index
    input  wire                 in_valid,   // the vector, one value per clock, `cols` values
    input  wire signed [@DW@-1:0] in_data,
    output wire                 in_ready,
    output reg                  out_valid,  // the results, one accumulator per clock, in row order
    output reg  [@RB@-1:0]      out_row,
    output reg  signed [@AW@-1:0] out_acc,
    output reg                  done,       // with the last result
    output wire                 busy,
    output reg                  bad_layer   // start named a layer the ROM does not hold
);
    localparam P = @P@;
    localparam S_IDLE = 2'd0, S_LOAD = 2'd1, S_RUN = 2'd2, S_FLUSH = 2'd3;

    // weights: word (layer base + g * cols + j) holds column j of rows g*P .. g*P+P-1, lane p
    // in bits [p*@WW@ +: @WW@]; biases: word (bias base + g), same lanes
    reg [P*@WW@-1:0] wrom [0:@WDEPTH@-1];
    reg [P*@BW@-1:0] brom [0:@BDEPTH@-1];
    initial $readmemh("matvec_weights.mem", wrom);
    initial $readmemh("matvec_bias.mem", brom);

    reg [1:0] state;
    reg [@CB@-1:0] cols, lcnt, j, pad;
    reg [@RB@-1:0] rows;
    reg [@GB@-1:0] groups, g;
    reg [@WAB@-1:0] waddr;
    reg [@BAB@-1:0] bbase;
    wire [@BAB@-1:0] baddr = bbase + g;     // declared: an index sum is self-determined
    reg signed [@DW@-1:0] vbuf [0:@MAXC@-1];

    // the MAC stage, one clock behind the ROM address
    reg d_valid, d_first, d_last;
    reg [@CB@-1:0] d_j;
    reg [@GB@-1:0] d_g;
    reg [P*@WW@-1:0] wq;
    reg [P*@BW@-1:0] bq;
    reg [P*@AW@-1:0] acc, ob;
    wire [P*@AW@-1:0] nxt;
    wire signed [@DW@-1:0] vcur = vbuf[d_j];

    // the drain: the finished group's results, one per clock
    reg [@PB@-1:0] drain_left, drain_idx;
    reg [@RB@-1:0] drain_row;

    assign in_ready = (state == S_LOAD);
    assign busy = (state != S_IDLE);

    genvar p;
    generate
        for (p = 0; p < P; p = p + 1) begin : lane
            wire signed [@WW@-1:0] w = wq[p*@WW@ +: @WW@];
            wire signed [@BW@-1:0] b = bq[p*@BW@ +: @BW@];
            wire signed [@AW@-1:0] base = d_first ? ($signed(b) <<< @BS@)
                                                  : $signed(acc[p*@AW@ +: @AW@]);
            assign nxt[p*@AW@ +: @AW@] = base + w * vcur;
        end
    endgenerate

    always @(posedge clk) begin
        d_valid <= 1'b0;
        out_valid <= 1'b0;
        done <= 1'b0;
        if (rst) begin
            state <= S_IDLE;
            drain_left <= 0;
            bad_layer <= 1'b0;
        end else begin
            case (state)
            S_IDLE: if (start) begin
                bad_layer <= 1'b0;
                lcnt <= 0;
                state <= S_LOAD;
                case (layer)
@LAYER_CASES@
                default: begin state <= S_IDLE; bad_layer <= 1'b1; done <= 1'b1; end
                endcase
            end
            S_LOAD: if (in_valid) begin
                vbuf[lcnt] <= in_data;
                lcnt <= lcnt + 1'b1;
                if (lcnt == cols - 1'b1) begin
                    state <= S_RUN;
                    j <= 0;
                    g <= 0;
                    pad <= 0;
                end
            end
            S_RUN: if (pad != 0) begin
                pad <= pad - 1'b1;
            end else begin
                wq <= wrom[waddr];
                bq <= brom[baddr];
                d_valid <= 1'b1;
                d_first <= (j == 0);
                d_last <= (j == cols - 1'b1);
                d_j <= j;
                d_g <= g;
                waddr <= waddr + 1'b1;
                if (j == cols - 1'b1) begin
                    j <= 0;
                    // a group lasts at least P clocks, so its results drain before the next's
                    pad <= (cols < P) ? P - cols : 0;
                    if (g == groups - 1'b1) state <= S_FLUSH;
                    else g <= g + 1'b1;
                end else begin
                    j <= j + 1'b1;
                end
            end
            default: ;  // S_FLUSH: the last group drains below
            endcase

            if (d_valid) begin
                if (d_last) ob <= nxt;
                else acc <= nxt;
            end
            if (drain_left != 0) begin
                out_valid <= 1'b1;
                out_acc <= ob[drain_idx*@AW@ +: @AW@];
                out_row <= drain_row;
                drain_row <= drain_row + 1'b1;
                drain_idx <= drain_idx + 1'b1;
                drain_left <= drain_left - 1'b1;
                if (state == S_FLUSH && !d_valid && drain_left == 1) begin
                    done <= 1'b1;
                    state <= S_IDLE;
                end
            end
            if (d_valid && d_last) begin     // after the drain: a new group replaces it
                drain_left <= (rows - d_g * P > P) ? P : rows - d_g * P;
                drain_idx <= 0;
                drain_row <= d_g * P;
            end
        end
    end
endmodule
