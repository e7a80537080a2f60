module squall_lstm_cell (
    input  wire                 clk,
    input  wire                 rst,         // synchronous, active high; also zeroes the state
    input  wire                 start,       // in idle: one step of `layer`
    input  wire [@LB@-1:0]      layer,
    input  wire                 clear,       // in idle: h = c = 0 (before a sequence)
    input  wire                 x_valid,     // x, one value per clock, n values
    input  wire signed [@DW@-1:0] x_data,
    output wire                 x_ready,
    input  wire                 st_we,       // in idle: write h[st_idx], c[st_idx]
    input  wire [@HB@-1:0]      st_idx,
    input  wire signed [@DW@-1:0] st_h,
    input  wire signed [@CW@-1:0] st_c,
    output reg                  out_valid,   // the new (h, c) of unit out_idx, in unit order
    output reg  [@HB@-1:0]      out_idx,
    output reg  signed [@DW@-1:0] out_h,
    output reg  signed [@CW@-1:0] out_c,
    output reg                  done,        // with the last unit
    output wire                 busy,
    output wire                 bad_layer
);
    localparam S_IDLE = 2'd0, S_FEED = 2'd1, S_WAIT = 2'd2, S_UPD = 2'd3;
    localparam MAXH = @MAXH@;

    reg [1:0] state;
    reg s1_valid, s1_last;              // update stage 1 holds a unit for stage 2
    reg [@NB@-1:0] n_in, feed;          // inputs of the layer; values fed so far
    reg [@HB@-1:0] hid, k;              // units of the layer; unit being updated
    reg signed [@DW@-1:0] h_mem [0:MAXH-1];
    reg signed [@CW@-1:0] c_mem [0:MAXH-1];
    reg signed [@ZW@-1:0] zbuf [0:4*MAXH-1];

@TABLES@
@FUNCTIONS@
    // the mat-vec unit over [x, h]
    reg is_lstm;
    always @* begin
        case (layer)
@LSTM_CASES@
        default: is_lstm = 1'b0;
        endcase
    end
    reg bad;
    assign bad_layer = bad;
    // idle once the last unit's write has landed (a clear or a new step cannot race it)
    wire idle = (state == S_IDLE) && !s1_valid;
    wire mv_start = idle && start && is_lstm;
    wire from_x = (feed < n_in);
    wire mv_in_valid = (state == S_FEED) && (from_x ? x_valid : 1'b1);
    wire [@NB@-1:0] at_h = feed - n_in;
    wire signed [@DW@-1:0] mv_in_data = from_x ? x_data : h_mem[at_h];
    wire mv_in_ready, mv_out_valid, mv_done, mv_busy;
    wire [@RB@-1:0] mv_out_row;
    wire signed [@AW@-1:0] mv_out_acc;
    assign x_ready = (state == S_FEED) && from_x && mv_in_ready;
    assign busy = !idle;

    squall_matvec mv (
        .clk(clk), .rst(rst), .start(mv_start), .layer(layer),
        .in_valid(mv_in_valid), .in_data(mv_in_data), .in_ready(mv_in_ready),
        .out_valid(mv_out_valid), .out_row(mv_out_row), .out_acc(mv_out_acc),
        .done(mv_done), .busy(mv_busy), .bad_layer());

    // update stage 1 (unit k): gates from the pre-activations, the new c
    // (index sums declared wide: an index expression is self-determined, so `hid + k` alone
    // would be computed in the width of hid and wrap)
    wire [@ZB@-1:0] at_f = hid + k;
    wire [@ZB@-1:0] at_g = 2 * hid + k;
    wire [@ZB@-1:0] at_o = 3 * hid + k;
    wire signed [@ZW@-1:0] z_i = zbuf[k];
    wire signed [@ZW@-1:0] z_f = zbuf[at_f];
    wire signed [@ZW@-1:0] z_g = zbuf[at_g];
    wire signed [@ZW@-1:0] z_o = zbuf[at_o];
    wire [@SW@-1:0] g_i = sigmoid_z(z_i);
    wire [@SW@-1:0] g_f = sigmoid_z(z_f);
    wire [@TW@-1:0] g_g = tanh_z(z_g);
    wire [@SW@-1:0] g_o = sigmoid_z(z_o);
    wire signed [@KW@-1:0] c_acc = ((@F_TIMES_C@) <<< @FC_SHIFT@) + ((@I_TIMES_G@) <<< @IG_SHIFT@);
    wire [@CW@-1:0] c_new = rq_c(c_acc);
    reg [@HB@-1:0] s1_k;
    reg [@SW@-1:0] s1_o;
    reg signed [@CW@-1:0] s1_c;
    // stage 2: h from o and tanh(c)
    wire [@TW@-1:0] t_c = tanh_c(s1_c);
    wire signed [@HW@-1:0] h_acc = @O_TIMES_T@;
    wire [@DW@-1:0] h_new = rq_h(h_acc);

    integer u;
    always @(posedge clk) begin
        out_valid <= 1'b0;
        done <= 1'b0;
        s1_valid <= 1'b0;
        if (rst) begin
            state <= S_IDLE;
            bad <= 1'b0;
            for (u = 0; u < MAXH; u = u + 1) begin
                h_mem[u] <= 0;
                c_mem[u] <= 0;
            end
        end else begin
            case (state)
            S_IDLE: if (!s1_valid) begin
                if (clear)
                    for (u = 0; u < MAXH; u = u + 1) begin
                        h_mem[u] <= 0;
                        c_mem[u] <= 0;
                    end
                if (st_we) begin
                    h_mem[st_idx] <= st_h;
                    c_mem[st_idx] <= st_c;
                end
                if (start) begin
                    feed <= 0;
                    bad <= !is_lstm;
                    state <= is_lstm ? S_FEED : S_IDLE;
                    done <= !is_lstm;    // a layer that is not an LSTM: flagged, nothing done
                    case (layer)
@LAYER_CASES@
                    default: ;
                    endcase
                end
            end
            S_FEED: if (mv_in_valid && mv_in_ready) begin
                feed <= feed + 1'b1;
                if (feed == n_in + hid - 1'b1) state <= S_WAIT;
            end
            S_WAIT: if (mv_done) begin
                k <= 0;
                state <= S_UPD;
            end
            default: begin      // S_UPD: one unit per clock
                s1_valid <= 1'b1;
                s1_last <= (k == hid - 1'b1);
                s1_k <= k;
                s1_o <= g_o;
                s1_c <= c_new;
                k <= k + 1'b1;
                if (k == hid - 1'b1) state <= S_IDLE;
            end
            endcase
            if (mv_out_valid) zbuf[mv_out_row] <= rq_z(mv_out_acc);
            if (s1_valid) begin
                h_mem[s1_k] <= h_new;
                c_mem[s1_k] <= s1_c;
                out_valid <= 1'b1;
                out_idx <= s1_k;
                out_h <= h_new;
                out_c <= s1_c;
                done <= s1_last;
            end
        end
    end
endmodule
